"""Every blueprint of the API, mounted under one prefix: `app.py` registers them, `openapi.py` documents them;
and, registered at the root, the requests none of them takes."""

from chalicelib.api import (
    agents_api,
    controls_api,
    directory_api,
    fallback_api,
    health_api,
    issues_api,
    routines_api,
    wakes_api,
    webhooks_api,
)

PREFIX = "/api"
BLUEPRINTS = (
    health_api.bp,
    directory_api.bp,
    routines_api.bp,
    controls_api.bp,
    agents_api.bp,
    issues_api.bp,
    wakes_api.bp,
    webhooks_api.bp,
)
# Made after every blueprint above is imported, so it knows every route.
UNROUTED = fallback_api.route_the_rest(PREFIX)
