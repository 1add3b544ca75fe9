"""The Chalice app: the API under /api, the every-minute tick and the SQS dispatcher."""

from chalice import Chalice

from chalicelib.api import directory_api, issues_api, routines_api

app = Chalice(app_name="routines")
app.experimental_feature_flags.update(["BLUEPRINTS"])
for blueprint in (directory_api.bp, routines_api.bp, issues_api.bp):
    app.register_blueprint(blueprint, url_prefix="/api")
