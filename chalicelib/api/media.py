"""Content negotiation: request bodies are JSON only, within a size limit, parsed without ever raising
anything but a 4xx."""

import json
from typing import Any

from chalicelib.domain.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_json(content_type: str | None, raw: bytes, limit: int, empty: Any = None) -> Any:
    """The parsed body (`empty` when there is none); 415 when not JSON, 413 over `limit` bytes, 400 when malformed."""
    if not raw.strip():
        if content_type and not is_json(content_type):
            raise UnsupportedMediaType("Request body must be application/json")
        return empty
    if not is_json(content_type):
        raise UnsupportedMediaType("Request body must be application/json")
    if len(raw) > limit:
        raise PayloadTooLarge(f"Request body is over {limit} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad syntax and integers over Python's 4,300-digit conversion limit;
        # RecursionError a deeply nested document: malformed input, not a server fault.
        raise BadRequest("Request body is not valid JSON") from exc


def json_object(content_type: str | None, raw: bytes, limit: int, noun: str) -> dict[str, Any]:
    """A body that must be a JSON object, and say so even when empty (a webhook delivery)."""
    if not is_json(content_type):
        raise UnsupportedMediaType(f"{noun} must be application/json")
    parsed = parse_json(content_type, raw, limit)
    if not isinstance(parsed, dict):
        raise BadRequest(f"{noun} must be a JSON object")
    return parsed
