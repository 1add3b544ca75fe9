"""Figures that survive a noisy shared machine: medians of repetitions, percentiles, ratios."""

import math
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(samples)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3)


def timed(work: Callable[[], Any]) -> float:
    """Seconds `work()` took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def timed_process(argv: list[str], **options: Any) -> tuple[float, float, str, str]:
    """(wall seconds, CPU seconds, stdout, stderr) of one process, which must succeed; CPU time (the child's, from
    `getrusage`) hardly notices busy neighbours.

    The process has this one's environment (read now: the bench's database is named there after start-up) but
    writes bytecode whatever it says: with PYTHONDONTWRITEBYTECODE set, our modules would be compiled afresh in
    every process while the installed packages' .pyc files are read, and its time would measure the compiler."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True, **options)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout, done.stderr
