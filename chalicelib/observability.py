"""Structured logs and CloudWatch metrics: one JSON line per event, metrics in Embedded Metric Format.

Both go to stderr, which Lambda sends to CloudWatch Logs (where EMF lines become metrics) and which keeps a
command's stdout for its own output. Metrics are written only in Lambda, or with ROUTINES_EMF=1.

Callers pass only fields they chose: no request body, header, key, secret or signature is ever logged.
"""

import json
import sys
import time
import traceback
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from chalicelib.settings import SETTINGS


class Metric(StrEnum):
    """Every metric we emit: the alarms in routines/packaging.py watch these names."""

    DUE_TRIGGERS = "DueTriggers"
    TICK_LAG_SECONDS = "TickLagSeconds"
    SLOTS_DROPPED = "SlotsDropped"
    DISPATCH_ERRORS = "DispatchErrors"
    TICK_DURATION_SECONDS = "TickDurationSeconds"
    QUEUED_TRIGGERS = "QueuedTriggers"
    DISPATCHED_TRIGGERS = "DispatchedTriggers"
    RUNS_DISPATCHED = "RunsDispatched"
    WEBHOOK_REJECTED = "WebhookRejected"

    @property
    def unit(self) -> str:
        return "Seconds" if self.endswith("Seconds") else "Count"


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def log(message: str, *, level: str = "INFO", **fields: Any) -> None:
    """One JSON line: `{"level", "message", "timestamp", ...fields}`."""
    if _LEVELS.get(level, 20) < _LEVELS.get(SETTINGS.log_level.upper(), 20):
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
    if not values or not SETTINGS.emit_metrics:
        return
    dims = dict(dimensions or {})
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": _now_ms(),
            "CloudWatchMetrics": [
                {
                    "Namespace": SETTINGS.metrics_namespace,
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
