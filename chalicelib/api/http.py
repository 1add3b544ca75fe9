"""The HTTP edge: one route decorator parses, authenticates and maps domain errors to statuses."""

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from chalicelib import runtime
from chalicelib.domain import errors
from chalicelib.domain.models import Principal
from chalicelib.services.auth import authenticate
from chalicelib.settings import SETTINGS

MAX_API_BODY_BYTES = 1024 * 1024
JSON_TYPES = ["application/json"]
logger = logging.getLogger("routines.api")

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

    def body(self, model: type[M] | TypeAdapter[Any]) -> Any:
        """The JSON body validated by a pydantic model; 400 with details when it does not fit."""
        raw = self.request.raw_body or b""
        if len(raw) > MAX_API_BODY_BYTES:
            raise errors.PayloadTooLarge(
                f"Request body is over {MAX_API_BODY_BYTES} bytes"
            )
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise errors.BadRequest("Request body is not valid JSON") from exc
        try:
            return (
                model.validate_python(data)
                if isinstance(model, TypeAdapter)
                else model.model_validate(data)
            )
        except ValidationError as exc:
            raise errors.BadRequest("Validation error", _details(exc)) from exc

    def query(self, name: str) -> str | None:
        return (self.request.query_params or {}).get(name)

    @property
    def base_url(self) -> str:
        """Where this API is reached from outside, for webhook URLs."""
        if SETTINGS.public_base_url:
            return SETTINGS.public_base_url.rstrip("/")
        headers = self.request.headers
        proto = headers.get("x-forwarded-proto", "http")
        host = headers.get("host", "127.0.0.1")
        stage = (self.request.context or {}).get("stage")
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
    content_types: list[str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a view `view(call, **path_params)`; its return value is the JSON body."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = bp.current_request
            return respond(lambda: view(_call(request, public), **params), status)

        bp.route(
            path, methods=list(methods), content_types=content_types or JSON_TYPES
        )(handler)
        return view

    return register


def _call(request: Request, public: bool) -> Call:
    principal = (
        Principal("") if public else authenticate(request.headers.get("authorization"))
    )
    return Call(request, principal, runtime.now())


def respond(produce: Callable[[], Any], status: int) -> Response:
    try:
        result = produce()
    except errors.DomainError as exc:
        return error_response(exc)
    except Exception:
        logger.exception("unhandled error")
        return Response({"error": "Internal server error"}, status_code=500)
    if status == 204:
        return Response(body="", status_code=204)
    return Response(body=result, status_code=status)


def error_response(exc: errors.DomainError) -> Response:
    status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
    body: dict[str, Any] = {"error": exc.message}
    if exc.details is not None:
        body["details"] = exc.details
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        body = {"error": exc.message, "retryAfterSeconds": exc.retry_after}
    return Response(body=body, status_code=status, headers=headers)
