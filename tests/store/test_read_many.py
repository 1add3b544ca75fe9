"""`read_many`: consistent batch reads of any number of keys, a hundred per request, side by side."""

import uuid

from chalicelib.store.tables import BATCH_KEYS, ClaimItem, read_many
from routines.metering import counting_requests


def test_more_keys_than_a_batch_are_all_read_once() -> None:
    prefix = f"read-many#{uuid.uuid4()}#"
    stored = [f"{prefix}{number:04d}" for number in range(2 * BATCH_KEYS + 50)]
    with ClaimItem.batch_write() as batch:
        for key in stored:
            batch.save(ClaimItem(key, targetId="x"))
    missing = [f"{prefix}missing-{number}" for number in range(10)]

    with counting_requests() as sent:
        found = read_many(ClaimItem, [*reversed(stored), *stored[:20], *missing])

    assert sorted(item.key for item in found) == stored  # each once; the missing ones left out
    assert sent["BatchGetItem"] == 3  # 260 distinct keys: three batches
