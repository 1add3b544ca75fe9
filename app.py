"""The Chalice app: the API under /api, the every-minute tick, the SQS dispatcher and the wake reader.

The tick, dispatcher and wake functions are declared here, so that Chalice generates their functions, roles,
schedule and event source mappings, and run in `chalicelib.lambdas`' modules: the packaged template points their
handlers there, so on AWS they never import this module, the API or pydantic.
"""

from typing import Any

from chalice import Chalice, Rate

from chalicelib import lambdas
from chalicelib.api.blueprints import BLUEPRINTS, PREFIX, UNROUTED
from chalicelib.lambdas import dispatch as dispatch_lambda
from chalicelib.lambdas import tick as tick_lambda
from chalicelib.lambdas import wake as wake_lambda

# The composition root of the Lambda functions: `chalicelib.lambdas` reads the environment, once. A process that
# configured itself before importing the app (the local stack, the tests) keeps its own settings.
SETTINGS = lambdas.SETTINGS
app = Chalice(app_name="routines")
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint, url_prefix=PREFIX)
app.register_blueprint(UNROUTED)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="tick")
def tick(event: Any) -> dict[str, object]:
    return tick_lambda.handler(event.to_dict(), event.context)


@app.on_sqs_message(queue=SETTINGS.dispatch_queue_name, batch_size=1, name="dispatch")
def dispatch(event: Any) -> None:
    dispatch_lambda.handler(event.to_dict(), event.context)


@app.on_dynamodb_record(
    stream_arn=SETTINGS.issues_stream_arn, batch_size=10, starting_position="TRIM_HORIZON", name="wake"
)
def wake(event: Any) -> None:
    wake_lambda.handler(event.to_dict(), event.context)
