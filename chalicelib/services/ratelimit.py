"""Webhook rate limits: per public id and per client address, over fixed one-minute windows.

Every delivery counts, rejected ones too, so guessing ids or secrets is as limited as firing.
"""

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import RateLimited
from chalicelib.settings import WebhookLimits
from chalicelib.store.ratelimit import count_hit

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
    """Counts one delivery; raises `RateLimited` (429) when either window is over its limit."""
    start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    expires = start + 2 * WINDOW_SECONDS
    windows = [
        (limits.per_id, count_hit(f"rate#id#{public_id[:_MAX_KEY_PART]}#{start}", expires)),
        (limits.per_ip, count_hit(f"rate#ip#{client_ip[:_MAX_KEY_PART]}#{start}", expires)),
    ]
    limit, hits = min(windows, key=lambda window: window[0] - window[1])
    if hits > limit:
        retry_after = max(1, start + WINDOW_SECONDS - int(now.timestamp()))
        raise RateLimited("Webhook rate limit exceeded", retry_after, limit)
    return Allowance(limit, limit - hits)
