"""Webhook rate limits over fixed one-minute windows.

Every delivery counts per client address and per (public id, address), so guessing ids or secrets is limited,
but only at the guesser's own address. The public id's own allowance counts authenticated deliveries only:
nobody without the secret can spend it and lock the valid sender out.

Before authentication a delivery reads its windows (in the same BatchGetItem as its public id's trigger) and
is refused when one is full. Its hits are added by conditional updates that never take a window past its
limit: in the dispatch transaction itself for a delivery that fires, or in a transaction of their own for one
that fires nothing (unknown id, bad signature, inactive trigger, bad body, a repeat). A full window at that
point answers 429 in place of the delivery's own answer, whether its secret was right or not, so deliveries
racing past the read learn nothing either.
"""

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import RateLimited
from chalicelib.domain.models import Trigger
from chalicelib.domain.signing import is_public_id
from chalicelib.settings import WebhookLimits
from chalicelib.store.ratelimit import Window, WindowFull, count_hits, read_delivery

WINDOW_SECONDS = 60
_MAX_KEY_PART = 64  # the public id comes straight from the URL


@dataclass(frozen=True)
class Allowance:
    """What is left of the tightest limit in the current window, once this delivery is counted."""

    limit: int
    remaining: int

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}


@dataclass(frozen=True)
class Admission:
    """A delivery let in before authentication: the trigger its public id finds (None: none), the allowance
    it leaves, the windows every delivery counts in and the id's own, for authenticated deliveries."""

    trigger: Trigger | None
    allowance: Allowance
    shared: tuple[Window, ...]
    own: Window
    retry_after: int

    def windows(self, authenticated: bool) -> tuple[Window, ...]:
        return (*self.shared, self.own) if authenticated else self.shared

    def refusal(self, limit: int) -> RateLimited:
        return RateLimited("Webhook rate limit exceeded", self.retry_after, limit)


def admit_delivery(public_id: str, client_ip: str, now: datetime, limits: WebhookLimits) -> Admission:
    """Reads the trigger of `public_id` with the delivery's windows in one request; 429 when its address, its
    (id, address) pair or the id's authenticated allowance has no room for it."""
    start = int(now.timestamp()) // WINDOW_SECONDS * WINDOW_SECONDS
    expires = start + 2 * WINDOW_SECONDS
    named, address = public_id[:_MAX_KEY_PART], client_ip[:_MAX_KEY_PART]
    own = Window(f"rate#id#{named}#{start}", limits.per_id, expires)
    shared = (
        Window(f"rate#sender#{named}#{address}#{start}", limits.per_id, expires),
        Window(f"rate#ip#{address}#{start}", limits.per_ip, expires),
    )
    reads = read_delivery(public_id if is_public_id(public_id) else None, (own, *shared))
    retry_after = max(1, start + WINDOW_SECONDS - int(now.timestamp()))
    # As if this delivery authenticates: the id's own allowance counts it then.
    limit, hits = min(((w.limit, reads.hits.get(w.key, 0) + 1) for w in (own, *shared)), key=lambda w: w[0] - w[1])
    admission = Admission(reads.trigger, Allowance(limit, max(0, limit - hits)), shared, own, retry_after)
    if hits > limit:
        raise admission.refusal(limit)
    return admission


def count_delivery(admission: Admission, authenticated: bool) -> None:
    """Counts a delivery that fired nothing (an authenticated one in the id's own allowance too); 429 when a
    window filled up meanwhile."""
    try:
        count_hits(admission.windows(authenticated))
    except WindowFull as exc:
        raise admission.refusal(exc.window.limit) from exc
