"""Fixed-window hit counters in the claims table; DynamoDB's TTL removes old windows."""

from chalicelib.store.tables import ClaimItem, read


def count_hit(key: str, expires_at: int) -> int:
    """Adds one hit to the window `key` and returns the window's count, atomically."""
    item = ClaimItem(key)
    item.update([ClaimItem.hits.add(1), ClaimItem.expiresAt.set(expires_at)])
    return int(item.hits or 0)


def peek_hits(key: str) -> int:
    """The window's count, without adding a hit."""
    item = read(ClaimItem, key)
    return int(item.hits or 0) if item else 0
