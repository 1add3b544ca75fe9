"""The HTTP edge: one route decorator parses, authenticates and maps domain errors to statuses."""

import functools
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from chalicelib import runtime
from chalicelib.domain import errors
from chalicelib.domain.media import parse_json
from chalicelib.domain.models import Principal
from chalicelib.observability import Metric, log, metrics
from chalicelib.services.auth import authenticate
from chalicelib.settings import SETTINGS

MAX_API_BODY_BYTES = 1024 * 1024
# Every content type reaches the view, so authentication answers first and a non-JSON body gets its 415 in
# our error shape (Chalice would answer an unlisted type itself, before the view, in its own shape).
ANY_CONTENT_TYPE = ["*/*"]

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

M = TypeVar("M", bound=BaseModel)


@dataclass
class Call:
    """One API call: the request, the caller and the moment it is handled."""

    request: Request
    principal: Principal
    now: datetime
    response_headers: dict[str, str] = field(default_factory=dict)

    def body(self, model: type[M] | TypeAdapter[Any]) -> Any:
        """The JSON body validated by a pydantic model; 400 with details when it does not fit."""
        data = parse_json(self.request.headers.get("content-type"), self.raw_body, MAX_API_BODY_BYTES, {})
        try:
            return model.validate_python(data) if isinstance(model, TypeAdapter) else model.model_validate(data)
        except ValidationError as exc:
            raise errors.BadRequest("Validation error", _details(exc)) from exc

    def query(self, name: str) -> str | None:
        params: Mapping[str, str] = self.request.query_params or {}
        return params.get(name)

    @property
    def raw_body(self) -> bytes:
        """The exact bytes sent (signatures are computed over them)."""
        raw = self.request.raw_body or b""
        return raw.encode() if isinstance(raw, str) else raw

    @property
    def client_ip(self) -> str:
        """The caller's address as API Gateway saw it (not X-Forwarded-For, which a caller can forge)."""
        context: dict[str, Any] = self.request.context or {}
        return str((context.get("identity") or {}).get("sourceIp") or "unknown")

    @property
    def base_url(self) -> str:
        """Where this API is reached from outside, for webhook URLs."""
        if SETTINGS.public_base_url:
            return SETTINGS.public_base_url.rstrip("/")
        headers = self.request.headers
        proto = headers.get("x-forwarded-proto", "http")
        host = headers.get("host", "127.0.0.1")
        context: dict[str, Any] = self.request.context or {}
        stage = context.get("stage")
        prefix = f"/{stage}" if stage and "execute-api" in host else ""
        return f"{proto}://{host}{prefix}"


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "path": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "code": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


def route(
    bp: Blueprint,
    path: str,
    methods: tuple[str, ...] = ("GET",),
    status: int = 200,
    public: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a view `view(call, **path_params)`; its return value is the JSON body."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = bp.current_request
            started = time.perf_counter()
            call = Call(request, Principal(""), runtime.now())
            response, error = respond(lambda: view(_authenticated(call, public), **params), status)
            response.headers.update(call.response_headers)
            _record(request, path, params, response, error, time.perf_counter() - started)
            return response

        bp.route(path, methods=list(methods), content_types=ANY_CONTENT_TYPE)(handler)
        return view

    return register


def _authenticated(call: Call, public: bool) -> Call:
    """Every route but the public ones authenticates before anything else (401 first)."""
    if not public:
        call.principal = authenticate(call.request.headers.get("authorization"))
    return call


def respond(produce: Callable[[], Any], status: int) -> tuple[Response, Exception | None]:
    """The view's result as a response; a domain error as its status; anything else as a bare 500."""
    try:
        result = produce()
    except errors.DomainError as exc:
        return error_response(exc), exc
    except Exception as exc:
        log("unhandled error", level="ERROR", error=type(exc).__name__, traceback=traceback.format_exc())
        return Response({"error": "Internal server error"}, status_code=500), exc
    if status == 204:
        return Response(body="", status_code=204), None
    return Response(body=result, status_code=status), None


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
    request: Request,
    path: str,
    params: Mapping[str, str],
    response: Response,
    error: Exception | None,
    seconds: float,
) -> None:
    """One log line per request (ids, never bodies or headers), and webhook rejections by reason."""
    context: dict[str, Any] = request.context or {}
    body = response.body if isinstance(response.body, dict) else {}
    run = body if {"source", "status", "routineId"} <= body.keys() else None
    log(
        "request",
        requestId=context.get("requestId"),
        method=request.method,
        route=path,
        status=response.status_code,
        latencyMs=round(seconds * 1000, 2),
        routineId=params.get("routineId") or body.get("routineId"),
        triggerId=params.get("triggerId") or body.get("triggerId"),
        runId=run["id"] if run else None,
        error=type(error).__name__ if error else None,
    )
    if error is not None and "publicId" in params:
        reason = getattr(error, "reason", None) or type(error).__name__
        metrics({Metric.WEBHOOK_REJECTED: 1}, {"Reason": reason})
