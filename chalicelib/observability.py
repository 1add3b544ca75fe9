"""Structured logs and CloudWatch metrics: one JSON line per event, metrics in Embedded Metric Format.

Both go to stderr, which Lambda sends to CloudWatch Logs (where EMF lines become metrics) and which keeps a
command's stdout for its own output. The composition root calls `configure` once; until then lines at INFO and
above are written and metrics are not (the settings turn them on in Lambda, or with ROUTINES_EMF=1).

Callers pass only fields they chose: no request body, header, key, secret or signature is ever logged.
"""

import json
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Metric(StrEnum):
    """Every metric we emit: the dashboard and the alarms in routines/packaging.py show and watch these names."""

    DUE_TRIGGERS = "DueTriggers"
    TICK_LAG_SECONDS = "TickLagSeconds"
    SLOTS_DROPPED = "SlotsDropped"
    DISPATCH_ERRORS = "DispatchErrors"
    TICK_DURATION_SECONDS = "TickDurationSeconds"
    QUEUED_TRIGGERS = "QueuedTriggers"
    DELAYED_TRIGGERS = "DelayedTriggers"  # sent ahead by the tick, to fire at their second
    DISPATCHED_TRIGGERS = "DispatchedTriggers"
    RUNS_DISPATCHED = "RunsDispatched"
    WEBHOOK_REJECTED = "WebhookRejected"
    WEBHOOK_DELIVERIES = "WebhookDeliveries"
    API_LATENCY_SECONDS = "ApiLatencySeconds"
    API_SERVER_ERRORS = "ApiServerErrors"
    WAKES_DELIVERED = "WakesDelivered"
    WAKES_FAILED = "WakesFailed"
    WAKE_LAG_SECONDS = "WakeLagSeconds"

    @property
    def unit(self) -> str:
        return "Seconds" if self.endswith("Seconds") else "Count"


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


@dataclass(frozen=True)
class _Config:
    """What `configure` set."""

    level: int = _LEVELS["INFO"]
    emit_metrics: bool = False
    namespace: str = "Routines"


_config = _Config()


def configure(log_level: str, emit_metrics: bool, namespace: str) -> None:
    """Sets the lowest level written (an unknown name means INFO), whether metrics are written, and their namespace."""
    global _config
    _config = _Config(_LEVELS.get(log_level.upper(), _LEVELS["INFO"]), emit_metrics, namespace)


def log(message: str, *, level: str = "INFO", **fields: Any) -> None:
    """One JSON line: `{"level", "message", "timestamp", ...fields}`."""
    if _LEVELS.get(level, _LEVELS["INFO"]) < _config.level:
        return
    record = {"level": level, "message": message, "timestamp": _now_ms(), "service": "routines"}
    record.update({key: value for key, value in fields.items() if value is not None})
    print(json.dumps(record, default=str), file=sys.stderr, flush=True)


def log_exception(message: str, **fields: Any) -> None:
    """An ERROR line for the exception being handled, its traceback included, in the same JSON shape."""
    error = sys.exc_info()[1]
    log(
        message,
        level="ERROR",
        error=type(error).__name__ if error else None,
        traceback=traceback.format_exc(),
        **fields,
    )


def metrics(values: Mapping[Metric, float], dimensions: Mapping[str, str] | None = None, **context: Any) -> None:
    """Emits metrics as one EMF line (CloudWatch extracts them from the Lambda log, no API call)."""
    if not values or not _config.emit_metrics:
        return
    dims = dict(dimensions or {})
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": _now_ms(),
            "CloudWatchMetrics": [
                {
                    "Namespace": _config.namespace,
                    "Dimensions": [sorted(dims)],
                    "Metrics": [{"Name": str(metric), "Unit": metric.unit} for metric in values],
                }
            ],
        },
        **dims,
        **{str(metric): value for metric, value in values.items()},
        **{key: value for key, value in context.items() if value is not None},
    }
    print(json.dumps(document, default=str), file=sys.stderr, flush=True)


def _now_ms() -> int:
    return int(time.time() * 1000)
