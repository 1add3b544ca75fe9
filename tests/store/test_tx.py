"""A cancelled transaction names the item whose condition failed, whatever order pynamodb sends the items in."""

import uuid
from collections.abc import Callable

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


ADD: dict[str, Callable[[Tx, ClaimItem], None]] = {
    "update": lambda tx, item: tx.update("update", item, [ClaimItem.runId.set("x")], ClaimItem.key.exists()),
    "put": lambda tx, item: tx.put("put", item, ClaimItem.key.does_not_exist()),
    "delete": lambda tx, item: tx.delete("delete", item, ClaimItem.key.exists()),
    "check": lambda tx, item: tx.check("check", item, ClaimItem.key.exists()),
}


@pytest.mark.parametrize(
    ("items", "failed"),
    [
        pytest.param(
            [("update", absent_claim), ("put", absent_claim), ("check", stored_claim)],
            {"update"},
            id="a failed update is named although the check and the put after it are sent first",
        ),
        pytest.param(
            [("update", stored_claim), ("delete", stored_claim), ("check", absent_claim)],
            {"check"},
            id="a failed check is named although it was added last",
        ),
    ],
)
def test_a_cancelled_transaction_names_the_item_whose_condition_failed(
    items: list[tuple[str, Callable[[], ClaimItem]]], failed: set[str]
) -> None:
    tx = Tx()
    for label, claim in items:
        ADD[label](tx, claim())

    assert cancelled_labels(tx) == failed


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
