"""Composition root: binds the settings once, and owns the real clock and id factory.

Everything else takes time and ids as parameters, and reads no environment: `app.py`, the `routines`
command and the test fixtures call `configure` before the first request, tick or test.
"""

import time
from datetime import UTC, datetime

from chalicelib import observability
from chalicelib.domain.ids import Uuid7Factory
from chalicelib.settings import Settings
from chalicelib.store import directory, tables

new_id = Uuid7Factory(time.time_ns)
_configured: list[Settings] = []


class NotConfigured(RuntimeError):
    """`settings()` before `configure()`: a composition root forgot to bind the settings."""


def configure(settings: Settings) -> Settings:
    """Points the tables, logs and metrics at `settings`; later calls replace earlier ones."""
    tables.bind(settings)
    directory.PRINCIPALS.configure(settings.key_cache_seconds)
    observability.configure(settings.log_level, settings.emit_metrics, settings.metrics_namespace)
    _configured[:] = [settings]
    return settings


def settings() -> Settings:
    if not _configured:
        raise NotConfigured("runtime.configure(settings) was not called")
    return _configured[0]


def configured() -> Settings | None:
    """The bound settings, or None before `configure`."""
    return _configured[0] if _configured else None


def now() -> datetime:
    return datetime.now(UTC)
