"""The AWS capacity model: each ceiling follows the measured cost it divides, and the documented floor holds."""

from dataclasses import replace

from bench import capacity

MEASURED = capacity.Measured(
    write_units=24.05,
    write_units_by_table={"claims": 2.0, "directory": 2.05, "runs": 2.0, "triggers": 2.0, "triggers/due": 4.0},
    transaction_items_by_table={"claims": 2, "directory": 2, "runs": 1, "triggers": 1},
    tick_cpu_per_key=0.0001,
    dispatch_cpu_per_run=0.005,
    due_shards=16,
)


def test_a_table_is_charged_at_least_two_units_per_transaction_item() -> None:
    model = capacity.model(MEASURED)
    assert model["busiestTableWriteUnitsPerDispatch"] == 4.05  # two items on the directory, and the counter
    assert model["ceilingsDispatchesPerSecond"]["oneCompany"] == round(1000 / 4.05)


def test_more_due_shards_raise_the_index_ceiling_and_shorten_the_burst() -> None:
    wider = capacity.model(replace(MEASURED, due_shards=64))
    narrow = capacity.model(MEASURED)
    assert (
        wider["ceilingsDispatchesPerSecond"]["dueIndexShards"]
        == 4 * narrow["ceilingsDispatchesPerSecond"]["dueIndexShards"]
    )
    assert wider["minutes"]["tableQuota"] < narrow["minutes"]["tableQuota"]
    assert wider["findQueryPages"] >= narrow["findQueryPages"]


def test_batched_sends_enqueue_a_million_ids_within_one_tick_budget() -> None:
    model = capacity.model(MEASURED)
    assert model["enqueueSecondsOneByOne"] > capacity.TICK_BUDGET_SECONDS
    assert model["enqueueSecondsBatchedOn16Threads"] < capacity.TICK_BUDGET_SECONDS
