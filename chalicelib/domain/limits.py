"""Sizes the service accepts, stated once."""

import json
from typing import Any

from chalicelib.domain.errors import PayloadTooLarge

MAX_PAYLOAD_BYTES = 256 * 1024
"""A run's trigger payload (webhook body or manual `payload`) as stored: with the run's other fields it stays
well inside DynamoDB's 400 KB item limit."""


def check_payload(payload: Any) -> None:
    """413 for a payload whose stored JSON is over `MAX_PAYLOAD_BYTES`."""
    if payload is not None and len(json.dumps(payload).encode()) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"Payload is over the {MAX_PAYLOAD_BYTES}-byte (256 KiB) limit")
