"""A cancelled transaction names the item whose condition failed, whatever order pynamodb sends the items in."""

import uuid

import pytest

from chalicelib.store.tables import ClaimItem
from chalicelib.store.tx import Tx, TxCancelled


def stored_claim() -> ClaimItem:
    item = ClaimItem(f"test#{uuid.uuid4()}", runId="r")
    item.save()
    return item


def absent_claim() -> ClaimItem:
    return ClaimItem(f"test#{uuid.uuid4()}")


def cancelled_labels(tx: Tx) -> set[str]:
    with pytest.raises(TxCancelled) as cancelled:
        tx.commit()
    return cancelled.value.failed


def test_a_failed_update_is_named_although_the_check_and_the_put_after_it_are_sent_first() -> None:
    tx = Tx()
    tx.update("update", absent_claim(), [ClaimItem.runId.set("x")], ClaimItem.key.exists())
    tx.put("put", absent_claim(), ClaimItem.key.does_not_exist())
    tx.check("check", stored_claim(), ClaimItem.key.exists())

    assert cancelled_labels(tx) == {"update"}


def test_a_failed_check_is_named_although_it_was_added_last() -> None:
    tx = Tx()
    tx.update("update", stored_claim(), [ClaimItem.runId.set("x")], ClaimItem.key.exists())
    tx.delete("delete", stored_claim(), ClaimItem.key.exists())
    tx.check("check", absent_claim(), ClaimItem.key.exists())

    assert cancelled_labels(tx) == {"check"}


def test_a_committed_transaction_writes_every_item() -> None:
    kept, gone, made = stored_claim(), stored_claim(), absent_claim()
    tx = Tx()
    tx.update("update", kept, [ClaimItem.runId.set("x")], ClaimItem.key.exists())
    tx.delete("delete", gone)
    tx.put("put", ClaimItem(made.key, runId="new"), ClaimItem.key.does_not_exist())
    tx.commit()

    assert ClaimItem.get(kept.key, consistent_read=True).runId == "x"
    assert ClaimItem.get(made.key, consistent_read=True).runId == "new"
    with pytest.raises(ClaimItem.DoesNotExist):
        ClaimItem.get(gone.key, consistent_read=True)
