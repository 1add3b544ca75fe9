"""The OpenAPI 3.1 document, generated from the registered routes and the models they take and answer.

`python -m chalicelib.api.openapi > openapi.json` (`make openapi`) rewrites the checked-in copy.
"""

import json
import re
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema

from chalicelib import __version__
from chalicelib.api import responses
from chalicelib.api.blueprints import PREFIX
from chalicelib.api.http import API_KEY, OPERATIONS, WEBHOOK_AUTH, Json, Operation
from chalicelib.domain.models import IssueStatus
from chalicelib.services.commands import PreviewCount

REF = "#/components/schemas/{model}"

ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The body is not valid JSON or does not fit the schema (`details` lists the problems)."),
    401: ("Unauthorized", "Missing, unknown or revoked credentials."),
    403: ("Forbidden", "The key may not do this: another company, board only, or another agent's routine."),
    404: ("NotFound", "No such resource; malformed ids are not found either."),
    409: ("Conflict", "The current state forbids this."),
    413: ("PayloadTooLarge", "The body is over the size limit."),
    415: ("UnsupportedMediaType", "The body is not JSON."),
    422: ("Unprocessable", "A semantic error: a bad cron expression or time zone, a reference to another company."),
    429: ("RateLimited", "Too many deliveries: retry after `Retry-After` seconds."),
}

PATH_PARAMETERS = {
    "companyId": "Company id.",
    "agentId": "Agent id.",
    "routineId": "Routine id.",
    "triggerId": "Trigger id.",
    "revisionId": "Revision id, from the routine's revisions.",
    "projectId": "Project id.",
    "issueId": "Issue id, or its identifier (`DEMO-12`, any case).",
    "commentId": "Comment id.",
    "publicId": "The webhook trigger's public id, from its `webhookUrl`.",
    "keyId": "An API key's id, from the create-key response.",
}
Limit = Annotated[int, Field(ge=1)]
QUERY_PARAMETERS: dict[str, tuple[Any, str]] = {
    "projectId": (str, "Only the routines (or issues) of this project."),
    "limit": (
        Limit,
        "How many: runs default 50, clamped to 1 to 200; routines default 200, at most 500; issues default 500, at "
        "most 1000; comments all, at most 500.",
    ),
    "assigneeAgentId": (str, "Only the issues assigned to this agent (`null`: unassigned)."),
    "status": (str, f"Only the issues in one of these comma-separated statuses ({', '.join(IssueStatus)})."),
    "originId": (str, "Only the execution issues of this routine."),
    "originKind": (str, "Only the issues of this origin (`routine_execution`)."),
    "parentId": (str, "Only the sub-issues of this issue."),
    "parentIssueId": (str, "Same as parentId."),
    "excludeRoutineExecutions": (str, "`true` or `1`: leave execution issues out (unless an origin is asked for)."),
    "nextCursor": (str, "The `X-Next-Cursor` of the previous page."),
    "after": (str, "Only the comments after this comment, in the asked order."),
    "afterCommentId": (str, "Same as after."),
    "order": (Literal["asc", "desc"], "Comment order by time: `desc` (default) or `asc`."),
    "wakeCommentId": (str, "A comment of the issue to return as `wakeComment`."),
    "count": (PreviewCount, "How many fire times: 1 to 100 (10)."),
}
WEBHOOK_HEADERS: dict[str, str] = {
    "X-Paperclip-Timestamp": "hmac_sha256 triggers: Unix time of signing, in seconds (or milliseconds).",
    "X-Paperclip-Signature": (
        "hmac_sha256 triggers: lowercase hex HMAC-SHA256 of `<timestamp>.<raw body>` with the trigger's secret, "
        "optionally prefixed `sha256=`."
    ),
    "Idempotency-Key": "A retried delivery with the same key returns the same run (202) instead of firing again.",
}


class _Generator(GenerateJsonSchema):
    """Pydantic's JSON schemas without a title on every property (the names say it)."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


class _Schemas:
    """Every shape's JSON schema, generated in one pass so that models used by several are defined once."""

    def __init__(self, shapes: list[Any]) -> None:
        mode: JsonSchemaMode = "validation"
        adapters = [(index, mode, _adapter(shape)) for index, shape in enumerate(shapes)]
        by_key, definitions = TypeAdapter.json_schemas(adapters, ref_template=REF, schema_generator=_Generator)
        self._shapes = shapes
        self._schemas = [by_key[(index, mode)] for index in range(len(shapes))]
        self.components: Json = definitions.get("$defs", {})

    def __getitem__(self, shape: Any) -> Json:
        index = next(index for index, known in enumerate(self._shapes) if known is shape)
        return dict(self._schemas[index])


def _adapter(shape: Any) -> TypeAdapter[Any]:
    return shape if isinstance(shape, TypeAdapter) else TypeAdapter(shape)


def _shapes() -> list[Any]:
    found: list[Any] = [responses.Error, responses.RateLimited, str, int]
    found += [annotation for annotation, _ in QUERY_PARAMETERS.values()]
    for operation in OPERATIONS:
        found += [shape for shape in (operation.request, operation.response) if shape is not None]
    unique: list[Any] = []
    for shape in found:
        if not any(shape is known for known in unique):
            unique.append(shape)
    return unique


@cache
def build_document() -> Json:
    """The whole document; the same for every call (the checked-in copy is compared with it)."""
    shapes = _Schemas(_shapes())
    paths: Json = {}
    for operation in OPERATIONS:
        paths.setdefault(PREFIX + operation.path, {})[operation.method.lower()] = _operation(operation, shapes)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Routines API",
            "version": __version__,
            "description": "Recurring work for AI agents: routines fire on a schedule, a webhook or an API call, "
            "and each firing creates an execution issue for the routine's agent.",
        },
        "security": list(API_KEY),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An agent or board API key."},
                "webhookSecret": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A bearer-mode webhook trigger's secret.",
                },
            },
            "responses": _error_responses(shapes),
            "schemas": dict(sorted(shapes.components.items())),
        },
    }


def _operation(operation: Operation, shapes: _Schemas) -> Json:
    body: Json = {"operationId": operation.operation_id, "tags": [operation.tag], "summary": operation.summary}
    if operation.description:
        body["description"] = operation.description
    if operation.security != API_KEY:
        body["security"] = list(operation.security)
    parameters = _parameters(operation, shapes)
    if parameters:
        body["parameters"] = parameters
    if operation.request is not None:
        body["requestBody"] = {
            "required": _requires_body(operation),
            "content": {"application/json": {"schema": shapes[operation.request]}},
        }
    body["responses"] = {str(operation.status): _success(operation, shapes)} | {
        str(status): {"$ref": f"#/components/responses/{ERRORS[status][0]}"} for status in operation.error_statuses
    }
    if operation.response is responses.Health:
        body["responses"]["503"] = {"description": "A table does not answer.", **_json(shapes[responses.Health])}
    return body


def _parameters(operation: Operation, shapes: _Schemas) -> list[Json]:
    found = [
        {"name": name, "in": "path", "required": True, "description": PATH_PARAMETERS[name], "schema": shapes[str]}
        for name in re.findall(r"{(\w+)}", operation.path)
    ]
    for name in operation.query:
        annotation, description = QUERY_PARAMETERS[name]
        found.append({"name": name, "in": "query", "description": description, "schema": shapes[annotation]})
    if operation.security == WEBHOOK_AUTH:
        found += [
            {"name": name, "in": "header", "description": description, "schema": shapes[str]}
            for name, description in WEBHOOK_HEADERS.items()
        ]
    return found


def _requires_body(operation: Operation) -> bool:
    """Views read an absent body as `{}`, so it is required only when `{}` does not fit; the webhook reads raw."""
    if operation.security == WEBHOOK_AUTH:
        return True
    try:
        _adapter(operation.request).validate_python({})
    except ValidationError:
        return True
    return False


def _success(operation: Operation, shapes: _Schemas) -> Json:
    if operation.response is None:
        return {"description": "Done; no body."}
    return {"description": operation.summary, **_json(shapes[operation.response])}


def _error_responses(shapes: _Schemas) -> Json:
    found = {name: {"description": text, **_json(shapes[responses.Error])} for name, text in ERRORS.values()}
    found["RateLimited"] = {
        "description": ERRORS[429][1],
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": shapes[int]}},
        **_json(shapes[responses.RateLimited]),
    }
    return found


def _json(schema: Json) -> Json:
    return {"content": {"application/json": {"schema": schema}}}


def main() -> None:
    print(json.dumps(build_document(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
