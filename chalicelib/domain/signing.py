"""Webhook delivery verification: a pure checklist over the raw request bytes."""

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.errors import Unauthorized

AUTHORIZATION_HEADER = "Authorization"
TIMESTAMP_HEADER = "X-Paperclip-Timestamp"
SIGNATURE_HEADER = "X-Paperclip-Signature"
GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
GITHUB_DELIVERY_HEADER = "X-GitHub-Delivery"
SIGNATURE_PREFIX = "sha256="
DEFAULT_REPLAY_WINDOW_SEC = 300
# Senders stamp in seconds or milliseconds; 10**12 s is ~31,700 years out, larger is ms.
_MILLISECONDS_ABOVE = 10**12
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_PUBLIC_ID = re.compile(r"[0-9a-f]{24}")


class SigningMode(StrEnum):
    """How a webhook trigger authenticates its deliveries."""

    bearer = "bearer"
    hmac_sha256 = "hmac_sha256"
    github_hmac = "github_hmac"
    none = "none"
    """No authentication at all: whoever knows the URL can fire the routine."""


class WebhookUnauthorized(Unauthorized):
    """Any authentication failure; `reason` feeds logs and metrics, never the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__("Unauthorized")
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """An authentic delivery; hmac ones carry a non-secret replay key."""

    replay_key: str | None


def verify_delivery(
    mode: SigningMode,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    replay_window_sec: int,
) -> Verified:
    """Return what an authentic delivery proves, or raise WebhookUnauthorized."""
    if mode == SigningMode.none:
        return Verified(replay_key=None)
    if mode == SigningMode.bearer:
        _verify_bearer(secret, headers)
        return Verified(replay_key=None)
    if mode == SigningMode.github_hmac:
        return _verify_github(secret, headers, body)
    return _verify_hmac(secret, headers, body, now, replay_window_sec)


def sign_delivery(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Build the headers of a valid hmac_sha256 delivery of `body` at `timestamp`."""
    sent = str(timestamp)
    return {TIMESTAMP_HEADER: sent, SIGNATURE_HEADER: _hmac_hex(secret, sent, body)}


def sign_github_delivery(secret: str, body: bytes, delivery_id: str) -> dict[str, str]:
    """Build the headers GitHub sends with `body`: the raw-body signature and the delivery's id."""
    signature = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return {GITHUB_SIGNATURE_HEADER: SIGNATURE_PREFIX + signature, GITHUB_DELIVERY_HEADER: delivery_id}


def new_secret() -> str:
    """Return a fresh signing secret: 24 random bytes as 48 lowercase hex."""
    return secrets.token_hex(24)


def new_public_id() -> str:
    """Return a fresh public trigger id: 12 random bytes as 24 lowercase hex."""
    return secrets.token_hex(12)


def is_public_id(text: str) -> bool:
    """Whether `text` has the form of a public trigger id (anything else finds no trigger)."""
    return _PUBLIC_ID.fullmatch(text) is not None


def _verify_bearer(secret: str, headers: Mapping[str, str]) -> None:
    presented = _required(headers, AUTHORIZATION_HEADER, "missing_bearer")
    if not _same(presented, f"Bearer {secret}"):
        raise WebhookUnauthorized("bad_bearer")


def _verify_hmac(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, window_sec: int) -> Verified:
    sent = _required(headers, TIMESTAMP_HEADER, "missing_signature")
    presented = _required(headers, SIGNATURE_HEADER, "missing_signature")
    _check_fresh(_epoch_seconds(sent), now, window_sec)
    expected = _hmac_hex(secret, sent, body)
    if not _same(presented.removeprefix(SIGNATURE_PREFIX), expected):
        raise WebhookUnauthorized("bad_signature")
    return Verified(replay_key=_replay_key(sent, expected))


def _verify_github(secret: str, headers: Mapping[str, str], body: bytes) -> Verified:
    """GitHub signs the raw body only, with no timestamp: a repeated delivery id is what marks a replay."""
    presented = (header(headers, GITHUB_SIGNATURE_HEADER) or header(headers, SIGNATURE_HEADER) or "").strip()
    if not presented:
        raise WebhookUnauthorized("missing_signature")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not _same(presented.removeprefix(SIGNATURE_PREFIX), expected):
        raise WebhookUnauthorized("bad_signature")
    delivery = (header(headers, GITHUB_DELIVERY_HEADER) or "").strip()
    digest = hashlib.sha256(f"github:{delivery}".encode("utf-8", "surrogatepass")).hexdigest()
    return Verified(replay_key=digest if delivery else None)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever case the sender gave its name (tests pass plain dicts)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _required(headers: Mapping[str, str], name: str, reason: str) -> str:
    value = (header(headers, name) or "").strip()
    if not value:
        raise WebhookUnauthorized(reason)
    return value


def _epoch_seconds(sent: str) -> float:
    value = float(sent) if _DECIMAL.fullmatch(sent) else math.nan
    if not math.isfinite(value):
        raise WebhookUnauthorized("bad_timestamp")
    return value / 1000 if value > _MILLISECONDS_ABOVE else value


def _check_fresh(sent_at: float, now: datetime, window_sec: int) -> None:
    if abs(now.timestamp() - sent_at) > window_sec:
        raise WebhookUnauthorized("stale_timestamp")


def _hmac_hex(secret: str, sent: str, body: bytes) -> str:
    message = sent.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _replay_key(sent: str, signature: str) -> str:
    return hashlib.sha256(f"{sent}.{signature}".encode("ascii")).hexdigest()


def _same(presented: str, expected: str) -> bool:
    # compare_digest raises TypeError on non-ASCII str; headers may hold surrogates.
    given = presented.encode("utf-8", "surrogatepass")
    wanted = expected.encode("utf-8", "surrogatepass")
    return len(given) == len(wanted) and hmac.compare_digest(given, wanted)
