"""Whether the service can do its work: every table answers."""

from dataclasses import dataclass
from typing import Literal

from chalicelib import __version__
from chalicelib.store.health import reachable_tables


@dataclass(frozen=True)
class Health:
    status: Literal["ok", "degraded"]
    version: str
    tables: dict[str, bool]


def check_health() -> Health:
    """`ok` when every table answers a read, `degraded` otherwise."""
    tables = reachable_tables()
    return Health("ok" if all(tables.values()) else "degraded", __version__, tables)
