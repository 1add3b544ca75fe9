"""What the API answers where no route is: 404 for a path none has, 405 with `Allow` for a method a known path
does not take; in the error shape, and never with anything of the request (API Gateway's own answer echoes the
`Authorization` header). Registered as routes, so API Gateway hands these requests to the handler too: a greedy
`/{proxy+}` resource (and `/`), and each known path's missing methods. Left out of the OpenAPI document."""

from chalice import Blueprint, Response

from chalicelib.api.http import OPERATIONS

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
GREEDY = "/{proxy+}"

bp = Blueprint(__name__)
_ALLOWED: dict[str, list[str]] = {}


def not_routed(**_path_params: str) -> Response:
    """404 `Not found`, or 405 naming the methods the path takes."""
    request = bp.current_request
    allowed = _ALLOWED.get(request.path)
    if allowed is None:
        return Response({"error": "Not found"}, status_code=404)
    headers: dict[str, str | list[str]] = {"Allow": ", ".join(allowed)}
    return Response({"error": f"Method {request.method} not allowed"}, status_code=405, headers=headers)


def route_the_rest(prefix: str) -> Blueprint:
    """The blueprint of every request no view takes; called once, after every other view is registered."""
    taken: dict[str, list[str]] = {}
    for operation in OPERATIONS:
        taken.setdefault(prefix + operation.path, []).append(operation.method)
    for path, methods in taken.items():
        _ALLOWED[path] = sorted(methods)
        _route(path, [method for method in METHODS if method not in methods])
    _route("/", list(METHODS))
    _route(GREEDY, list(METHODS))
    return bp


def _route(path: str, methods: list[str]) -> None:
    if methods:
        bp.route(path, methods=methods, content_types=["*/*"])(not_routed)
