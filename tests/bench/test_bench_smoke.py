"""The benchmark code paths at tiny sizes: they run and report what they should (not how fast)."""

import math
from pathlib import Path
from typing import Any

import pytest

from bench import machine, suite
from routines.local.dynamodb import DynamoDBLocal


@pytest.fixture(scope="module")
def results(dynamodb: DynamoDBLocal) -> dict[str, dict[str, Any]]:
    emitted: list[dict[str, Any]] = []
    suite.run_all(suite.TINY, emitted.append)
    return {result["benchmark"]: result for result in emitted}


def test_every_benchmark_reports_its_figures_and_targets(results: dict[str, dict[str, Any]]) -> None:
    assert list(results) == [
        "tick_cost",
        "dispatch_vs_raw",
        "requests_per_dispatch",
        "cron_next_fire",
        "cold_start",
        "api_latency",
        "fire_lag",
        "server_throughput",
        "status_speed",
        "burst",
    ]
    for result in results.values():
        assert all(isinstance(met, bool) for met in result.get("targets", {}).values())


def test_tick_cost_finds_the_due_triggers_at_every_size(results: dict[str, dict[str, Any]]) -> None:
    tick = results["tick_cost"]
    assert tick["stored"] == list(suite.TINY.tick.stored)
    assert all(found >= suite.TINY.tick.due for found in tick["dueFound"])
    assert tick["tickRunsCreated"] == [suite.TINY.tick.due] * len(tick["stored"])
    assert tick["findQueries"][0] > 0
    assert tick["readsRatio"] > 0 and tick["timeRatio"] > 0


def test_dispatch_and_raw_rates_are_measured_side_by_side(results: dict[str, dict[str, Any]]) -> None:
    dispatch = results["dispatch_vs_raw"]
    assert dispatch["itemsPerTransaction"] >= 5
    assert dispatch["dispatchRunsPerSecond"] > 0 and dispatch["rawTransactionsPerSecond"] > 0
    assert dispatch["ratio"] > 0


def test_request_counts_name_the_operations(results: dict[str, dict[str, Any]]) -> None:
    counted = results["requests_per_dispatch"]
    assert "TransactWriteItems" in counted["startRunByOperation"]
    assert counted["scheduledByOperation"]["TransactWriteItems"] == 1
    assert set(counted["routesWarm"]) == {"createRoutine", "manualRun", "signedWebhook"}
    assert counted["routesWarmByOperation"]["signedWebhook"]["TransactWriteItems"] == 1
    assert set(counted["routesCold"]) == {
        f"{r}.{k}" for r in ("createRoutine", "manualRun") for k in ("boardKey", "agentKey")
    }


def test_cron_cold_start_and_api_report_ratios(results: dict[str, dict[str, Any]]) -> None:
    assert results["cron_next_fire"]["speedupVsCroniter"] > 0
    assert results["cold_start"]["ratio"] > 0
    assert results["api_latency"]["webhookFireP50Ratio"] > 0


def test_server_throughput_compares_workers_with_one_process_at_each_load(results: dict[str, dict[str, Any]]) -> None:
    throughput = results["server_throughput"]
    assert throughput["workers"] == 2
    assert list(throughput["workersVsSingleRatio"]) == ["1", "2"]
    assert all(rate > 0 for rate in throughput["singleWorkerRequestsPerSecond"].values())
    assert all(rate > 0 for rate in throughput["workersRequestsPerSecond"].values())


def test_cold_start_times_our_observability_beside_an_empty_interpreter(results: dict[str, dict[str, Any]]) -> None:
    figures = results["cold_start"]["observability"]
    assert figures["oursMs"] > 0 and figures["emptyMs"] > 0


def test_cold_start_compares_our_observability_with_powertools(results: dict[str, dict[str, Any]]) -> None:
    figures = results["cold_start"]["observability"]
    # Differences of noisy timings may come out negative on a busy machine: only their presence is checked.
    assert figures["powertoolsToOursRatio"] > 0 and math.isfinite(figures["addedOverEmptyRatio"])
    assert "aws_lambda_powertools" in figures["powertoolsHeaviestImports"]


def test_fire_lag_fires_every_slot_once_and_never_before_it(results: dict[str, dict[str, Any]]) -> None:
    lag = results["fire_lag"]
    assert lag["targets"]["everySlotFiredOnce"] and lag["targets"]["neverEarly"]
    for figures in (lag["lookAhead"], lag["withoutLookAhead"]):
        assert figures["burstRuns"] == suite.TINY.lag.burst and figures["singleRuns"] == suite.TINY.lag.singles


def test_the_report_has_the_figures_and_the_chart(results: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from bench import report

    path = report.write(list(results.values()), machine.describe(), machine.load(), 1.0, tmp_path)
    text = path.read_text()
    assert "## 1. Tick cost vs stored triggers" in text
    assert "### Logging and metrics: our writer or aws-lambda-powertools" in text
    assert "### Per route, authentication included" in text
    assert "## 8. Local server throughput" in text
    assert (tmp_path / "tick_cost.png").stat().st_size > 0
    assert "## 7. Fire lag: slot to run, with look-ahead and without" in text
    assert (tmp_path / "fire_lag.png").stat().st_size > 0


def test_status_speed_times_the_whole_command_over_every_routine(results: dict[str, dict[str, Any]]) -> None:
    status = results["status_speed"]
    assert status["rowsShown"] == suite.TINY.status.routines
    assert status["statusSeconds"] > 0 and status["startupSeconds"] > 0


def test_the_burst_fires_every_slot_once_through_the_queue_at_each_process_count(
    results: dict[str, dict[str, Any]],
) -> None:
    burst = results["burst"]
    triggers, processes = suite.TINY.fanout.triggers, list(suite.TINY.fanout.processes)
    assert burst["processes"] == processes
    assert burst["queued"] == [triggers] * len(processes)
    assert burst["batches"] == [math.ceil(triggers / burst["batchSize"])] * len(processes)
    assert burst["exactlyOnce"] == [triggers] * len(processes)
    assert burst["missing"] == [0] * len(processes) and burst["duplicates"] == [0] * len(processes)
    assert burst["targets"]["everySlotFiredOnce"]
    assert all(rate > 0 for rate in burst["runsPerSecond"]) and burst["dynamodbCpuMsPerRun"][0] > 0


def test_the_burst_meters_each_table_and_models_aws_from_it(results: dict[str, dict[str, Any]]) -> None:
    burst = results["burst"]
    assert burst["transactionItemsByTable"]["claims"] == 2  # the slot claim and the issue identifier
    assert burst["writeUnitsPerDispatchByTable"]["triggers/due"] > 0
    model = burst["awsModel"]
    assert model["triggers"] == 1_000_000 and model["findQueryPages"] >= 16
    assert all(minutes > 1 for minutes in model["minutes"].values())


def test_the_report_has_the_burst_section_and_its_chart(results: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from bench import report

    path = report.write(list(results.values()), machine.describe(), machine.load(), 1.0, tmp_path)
    assert "## 9. A burst past one machine" in path.read_text()
    assert "### Capacity model: 1,000,000 triggers due in one minute on AWS" in path.read_text()
    assert (tmp_path / "burst.png").stat().st_size > 0
