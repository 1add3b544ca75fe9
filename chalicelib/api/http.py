"""The HTTP edge: routes registered with what they take and answer, parsed, authenticated, mapped to statuses.

A view is `view(call, **path_params[, body])`: its `body` parameter's type is the request body it takes, its
return type the response body; both validate and both document the route (`openapi.py` reads `OPERATIONS`).
"""

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, get_type_hints

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import TypeAdapter, ValidationError

from chalicelib import runtime
from chalicelib.api.media import json_object, parse_json
from chalicelib.api.responses import ResponseBody
from chalicelib.domain import errors
from chalicelib.domain.models import ANONYMOUS, Principal
from chalicelib.observability import Metric, log, log_exception, metrics
from chalicelib.services.auth import authenticate
from chalicelib.store.errors import refused_request

Json = dict[str, Any]
M = TypeVar("M")
MAX_API_BODY_BYTES = 1024 * 1024
# Real DynamoDB refuses a key over 2,048 bytes (a sort key over 1,024) with a ValidationException.
MAX_QUERY_VALUE_BYTES = 1024
# Every content type reaches the view, so authentication answers first and a non-JSON body gets its 415 in
# our error shape (Chalice would answer an unlisted type itself, before the view, in its own shape).
ANY_CONTENT_TYPE = ["*/*"]
API_KEY: tuple[Json, ...] = ({"apiKey": []},)
NO_AUTH: tuple[Json, ...] = ()
# Bearer-mode triggers send the secret; hmac_sha256 triggers sign with headers instead.
WEBHOOK_AUTH: tuple[Json, ...] = ({"webhookSecret": []}, {})

STATUS = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.Invalid: 422,
    errors.RateLimited: 429,
}


@dataclass(frozen=True)
class Operation:
    """One route: what it takes and answers, and the errors it can answer besides the usual ones.

    Every operation that authenticates can answer 401, every one with a body 400, 413 and 415, and every one
    with query parameters 400 (a value over `MAX_QUERY_VALUE_BYTES`): `error_statuses` adds those.
    """

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    description: str | None
    status: int
    request: Any
    response: Any
    errors: tuple[int, ...]
    query: tuple[str, ...]
    security: tuple[Json, ...]
    parses_body: bool

    @property
    def error_statuses(self) -> list[int]:
        implied = {401} if self.security else set()
        if self.request is not None:
            implied |= {400, 413, 415}
        if self.query:
            implied |= {400}
        return sorted(implied | set(self.errors))

    @property
    def public(self) -> bool:
        return self.security != API_KEY


OPERATIONS: list[Operation] = []


@dataclass
class Call:
    """One API call: the request, the caller and the moment it is handled."""

    request: Request
    principal: Principal
    now: datetime
    response_headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None

    def body(self, shape: type[M]) -> M:
        """The JSON body validated by `shape`, for views that must check something before reading it."""
        return _parse(shape, self)  # type: ignore[no-any-return]

    def query(self, name: str) -> str | None:
        """A query parameter; 400 when it is longer than any id, status list or key DynamoDB would take."""
        params: Mapping[str, str] = self.request.query_params or {}
        value = params.get(name)
        if value is not None and len(value.encode()) > MAX_QUERY_VALUE_BYTES:
            raise errors.BadRequest(f"Query parameter {name} is over {MAX_QUERY_VALUE_BYTES} bytes")
        return value

    def next_cursor(self, cursor: str | None) -> None:
        """A paged list's `X-Next-Cursor` header, sent while more pages remain."""
        if cursor:
            self.response_headers["X-Next-Cursor"] = cursor

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name.lower())

    @property
    def raw_body(self) -> bytes:
        """The exact bytes sent (signatures are computed over them)."""
        raw = self.request.raw_body or b""
        return raw.encode() if isinstance(raw, str) else raw

    def json_object(self, noun: str, limit: int) -> dict[str, Any]:
        """The body as a JSON object, which it must be and say it is, even when empty."""
        return json_object(self.header("content-type"), self.raw_body, limit, noun)

    @property
    def client_ip(self) -> str:
        """The caller's address as API Gateway saw it (not X-Forwarded-For, which a caller can forge)."""
        context: dict[str, Any] = self.request.context or {}
        return str((context.get("identity") or {}).get("sourceIp") or "unknown")

    @property
    def base_url(self) -> str:
        """Where this API is reached from outside, for webhook URLs."""
        public = runtime.settings().public_base_url
        if public:
            return public.rstrip("/")
        headers = self.request.headers
        proto = headers.get("x-forwarded-proto", "http")
        host = headers.get("host", "127.0.0.1")
        context: dict[str, Any] = self.request.context or {}
        stage = context.get("stage")
        prefix = f"/{stage}" if stage and "execute-api" in host else ""
        return f"{proto}://{host}{prefix}"


class Routes:
    """Registers a blueprint's views under one OpenAPI tag."""

    def __init__(self, bp: Blueprint, tag: str) -> None:
        self.bp = bp
        self.tag = tag

    def get(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("DELETE", path, **options)

    def route(
        self,
        method: str,
        path: str,
        status: int = 200,
        errors: tuple[int, ...] = (),
        query: tuple[str, ...] = (),
        security: tuple[Json, ...] = API_KEY,
        request: Any = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A view with a `body` parameter gets the body parsed by its type before it runs; `request` instead
        documents a body the view reads itself, after its own checks (`call.body`, or raw bytes)."""

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            hints = get_type_hints(view, include_extras=True)
            summary, _, description = inspect.cleandoc(view.__doc__ or view.__name__).partition("\n\n")
            operation = Operation(
                method, path, view.__name__, self.tag, summary, description.replace("\n", " ") or None, status,
                hints.get("body", request), _response_type(hints.get("return")), errors, query, security,
                "body" in hints,
            )  # fmt: skip
            OPERATIONS.append(operation)
            handler = functools.wraps(view)(lambda **params: _handle(self.bp, operation, view, params))
            self.bp.route(path, methods=[method], content_types=ANY_CONTENT_TYPE)(handler)
            return view

        return register


def _response_type(hint: Any) -> Any:
    return None if hint is type(None) else hint


def _handle(bp: Blueprint, operation: Operation, view: Callable[..., Any], params: dict[str, str]) -> Response:
    started = time.perf_counter()
    call = Call(bp.current_request, ANONYMOUS, runtime.now())
    result: Any = None
    try:
        result = _invoke(operation, view, call, params)
        response = _success(result, call.status or operation.status)
        error: Exception | None = None
    except Exception as exc:
        response, error = _failure(exc), exc
    # An error's own headers (a 429's allowance) win over what the view set before it failed.
    response.headers = {**call.response_headers, **response.headers}
    _record(call, operation, params, response.status_code, error, result, time.perf_counter() - started)
    return response


def _invoke(operation: Operation, view: Callable[..., Any], call: Call, params: dict[str, str]) -> Any:
    """Every route but the public ones authenticates before anything else (401 first), then reads its body."""
    if not operation.public:
        call.principal = authenticate(call.header("authorization"), call.now)
    if operation.parses_body:
        return view(call, **params, body=_parse(operation.request, call))
    return view(call, **params)


def _parse(shape: Any, call: Call) -> Any:
    """The JSON body validated by its type; 400 with details when it does not fit."""
    data = parse_json(call.header("content-type"), call.raw_body, MAX_API_BODY_BYTES, {})
    try:
        return _adapter(shape).validate_python(data)
    except ValidationError as exc:
        raise errors.BadRequest("Validation error", _details(exc)) from exc


# Built on first use, not at import: the tick and dispatcher import the app but never parse a body.
@functools.cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "path": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "code": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


def _success(result: Any, status: int) -> Response:
    if status == 204:
        return Response(body="", status_code=204)
    return Response(body=_json(result), status_code=status)


def _json(result: Any) -> Any:
    if isinstance(result, ResponseBody):
        return result.dump()
    if isinstance(result, list):
        return [_json(item) for item in result]
    return result


def _failure(exc: Exception) -> Response:
    """A domain error as its status; anything else as a bare 500 (the traceback goes to the log only)."""
    exc = refused_request(exc) or exc
    if isinstance(exc, errors.DomainError):
        return error_response(exc)
    log_exception("unhandled error")
    return Response({"error": "Internal server error"}, status_code=500)


def error_response(exc: errors.DomainError) -> Response:
    status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
    body: dict[str, Any] = {"error": exc.message}
    if exc.details is not None:
        body["details"] = exc.details
    headers: dict[str, str | list[str]] = {}
    if isinstance(exc, errors.RateLimited):
        headers = {
            "Retry-After": str(exc.retry_after),
            "X-RateLimit-Limit": str(exc.limit),
            "X-RateLimit-Remaining": "0",
        }
        body = {"error": exc.message, "retryAfterSeconds": exc.retry_after}
    return Response(body=body, status_code=status, headers=headers)


def _record(
    call: Call,
    operation: Operation,
    params: Mapping[str, str],
    status: int,
    error: Exception | None,
    result: Any,
    seconds: float,
) -> None:
    """One log line per request (ids from the path and the view's result, never bodies or headers), its
    latency and 5xx by route group, and webhook deliveries by answer and rejections by reason."""
    context: dict[str, Any] = call.request.context or {}
    ids: dict[str, Any] = {"routineId": params.get("routineId"), "triggerId": params.get("triggerId")}
    if isinstance(result, ResponseBody):
        ids.update(result.log_fields())
    log(
        "request",
        requestId=context.get("requestId"),
        method=operation.method,
        route=operation.path,
        status=status,
        latencyMs=round(seconds * 1000, 2),
        error=type(error).__name__ if error else None,
        **ids,
    )
    metrics(
        {Metric.API_LATENCY_SECONDS: seconds, Metric.API_SERVER_ERRORS: int(status >= 500)},
        {"RouteGroup": operation.tag},
    )
    if "publicId" in params:
        metrics({Metric.WEBHOOK_DELIVERIES: 1}, {"Answer": "2xx" if status < 300 else str(status)})
    if error is not None and "publicId" in params:
        reason = getattr(error, "reason", None) or type(error).__name__
        metrics({Metric.WEBHOOK_REJECTED: 1}, {"Reason": reason})
