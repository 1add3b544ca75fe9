"""Webhook rate limits over fixed one-minute windows.

Before authentication every delivery counts per client address and per (public id, address), so guessing
ids or secrets is limited, but only at the guesser's own address. The public id's own allowance counts
authenticated deliveries only: nobody without the secret can spend it and lock the valid sender out.
"""

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import RateLimited
from chalicelib.settings import WebhookLimits
from chalicelib.store.ratelimit import count_hit, peek_hits

WINDOW_SECONDS = 60
_MAX_KEY_PART = 64  # the public id comes straight from the URL


@dataclass(frozen=True)
class Allowance:
    """What is left of the tighter of the two limits in the current window."""

    limit: int
    remaining: int

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}


def admit_delivery(public_id: str, client_ip: str, now: datetime, limits: WebhookLimits) -> Allowance:
    """Counts one delivery before authentication; 429 when its address, its (id, address) pair or the id's
    authenticated allowance is over its limit."""
    start, expires = _window(now)
    public_id, client_ip = public_id[:_MAX_KEY_PART], client_ip[:_MAX_KEY_PART]
    windows = [
        (limits.per_id, peek_hits(f"rate#id#{public_id}#{start}") + 1),  # as if this one authenticates
        (limits.per_id, count_hit(f"rate#sender#{public_id}#{client_ip}#{start}", expires)),
        (limits.per_ip, count_hit(f"rate#ip#{client_ip}#{start}", expires)),
    ]
    return _admit(windows, start, now)


def admit_authenticated(public_id: str, now: datetime, limits: WebhookLimits, before: Allowance) -> Allowance:
    """Counts an authenticated delivery against the public id's own allowance; 429 when it is spent."""
    start, expires = _window(now)
    hits = count_hit(f"rate#id#{public_id[:_MAX_KEY_PART]}#{start}", expires)
    return _admit([(limits.per_id, hits), (before.limit, before.limit - before.remaining)], start, now)


def _window(now: datetime) -> tuple[int, int]:
    start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    return start, start + 2 * WINDOW_SECONDS


def _admit(windows: list[tuple[int, int]], start: int, now: datetime) -> Allowance:
    limit, hits = min(windows, key=lambda window: window[0] - window[1])
    if hits > limit:
        retry_after = max(1, start + WINDOW_SECONDS - int(now.timestamp()))
        raise RateLimited("Webhook rate limit exceeded", retry_after, limit)
    return Allowance(limit, limit - hits)
