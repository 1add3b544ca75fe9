"""Figures that survive a noisy shared machine: medians of repetitions, percentiles, ratios."""

import math
import statistics
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
