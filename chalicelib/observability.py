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
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Metric(StrEnum):
    """Every metric the code emits (the alarms and the dashboard name them from here)."""

    DueTriggers = "DueTriggers"
    TickLagSeconds = "TickLagSeconds"
    SlotsDropped = "SlotsDropped"
    DispatchErrors = "DispatchErrors"
    TickDurationSeconds = "TickDurationSeconds"
    QueuedTriggers = "QueuedTriggers"
    DispatchedTriggers = "DispatchedTriggers"
    RunsDispatched = "RunsDispatched"
    WebhookRejected = "WebhookRejected"


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


@dataclass(frozen=True)
class _Config:
    log_level: str = "INFO"
    emit_metrics: bool = False
    namespace: str = "Routines"


_CONFIG = [_Config()]


def configure(log_level: str, emit_metrics: bool, namespace: str) -> None:
    _CONFIG[0] = _Config(log_level.upper(), emit_metrics, namespace)


def log(message: str, *, level: str = "INFO", **fields: Any) -> None:
    """One JSON line: `{"level", "message", "timestamp", ...fields}`."""
    if _LEVELS.get(level, 20) < _LEVELS.get(_CONFIG[0].log_level, 20):
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


def metrics(values: Mapping[str, float], dimensions: Mapping[str, str] | None = None, **context: Any) -> None:
    """Emits metrics as one EMF line (CloudWatch extracts them from the Lambda log, no API call)."""
    if not values or not _CONFIG[0].emit_metrics:
        return
    dims = dict(dimensions or {})
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": _now_ms(),
            "CloudWatchMetrics": [
                {
                    "Namespace": _CONFIG[0].namespace,
                    "Dimensions": [sorted(dims)],
                    "Metrics": [{"Name": name, "Unit": _unit(name)} for name in values],
                }
            ],
        },
        **dims,
        **values,
        **{key: value for key, value in context.items() if value is not None},
    }
    print(json.dumps(document, default=str), file=sys.stderr, flush=True)


def _unit(name: str) -> str:
    return "Seconds" if name.endswith("Seconds") else "Count"


def _now_ms() -> int:
    return int(time.time() * 1000)
