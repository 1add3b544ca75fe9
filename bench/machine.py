"""Where and when the figures were taken: the machine, the moment, the commit (read from .git, no git run)."""

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from routines.local.dynamodb import find_jar

REPO = Path(__file__).resolve().parents[1]


def describe() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} cores",
        "memory": f"{_memory_gib():.0f} GiB",
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "java": _java(),
        "dynamodbLocal": _dynamodb_local(),
        "loadBefore": load(),
    }


def load() -> str:
    """The 1/5/15-minute load averages: on a shared machine, how busy the neighbours were."""
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def commit() -> str:
    head = _read(REPO / ".git" / "HEAD")
    if not head.startswith("ref: "):
        return head[:12] or "unknown"
    ref = head.removeprefix("ref: ")
    sha = _read(REPO / ".git" / ref) or _packed(ref)
    return f"{sha[:12] or 'unknown'} ({ref.rsplit('/', 1)[-1]}; uncommitted changes not shown)"


def _packed(ref: str) -> str:
    for line in _read(REPO / ".git" / "packed-refs").splitlines():
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return ""


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read(Path("/proc/cpuinfo")).splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def _java() -> str:
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "not found"
    return done.stderr.splitlines()[0] if done.stderr else "unknown"


def _dynamodb_local() -> str:
    jar = find_jar()
    return jar.parent.name if jar else "not installed"
