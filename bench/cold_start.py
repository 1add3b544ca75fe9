"""5. Cold start: a new interpreter importing each Lambda function's handler module, against one importing only
botocore and chalice, and one importing only botocore.

The API's handler is `app` (every blueprint, pydantic, Chalice); the tick's, dispatcher's and wake reader's are
their modules in chalicelib/lambdas, which the packaged template names. Beside them, in the same interleaved
rounds: a new interpreter that sets up our observability module and writes one log line and one metric, against
one doing the same with aws-lambda-powertools' Logger and Metrics (when requirements-bench.txt is installed), and
an empty interpreter, whose start all include.
"""

import importlib.metadata
import importlib.util
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import median, ratio, timed_process

REPO = Path(__file__).resolve().parents[1]
APP = "import app"
FUNCTIONS = {
    "api": APP,
    "tick": "import chalicelib.lambdas.tick",
    "dispatch": "import chalicelib.lambdas.dispatch",
    "wake": "import chalicelib.lambdas.wake",
}
TARGETED = ("tick", "dispatch")
BASELINE = "import botocore.session, chalice"
BOTOCORE = "import botocore.session"
EMPTY = "pass"
OURS = (
    "from chalicelib.observability import Metric, configure, log, metrics; configure('INFO', True, 'Routines'); "
    "log('cold'); metrics({Metric.DUE_TRIGGERS: 1})"
)
POWERTOOLS = (
    "from aws_lambda_powertools import Logger, Metrics; from aws_lambda_powertools.metrics import MetricUnit; "
    "Logger(service='routines').info('cold'); metrics = Metrics(namespace='Routines', service='routines'); "
    "metrics.add_metric(name='DueTriggers', unit=MetricUnit.Count, value=1); metrics.flush_metrics()"
)
Sample = tuple[float, float]


@dataclass(frozen=True)
class Sizes:
    runs: int = 20


def run(sizes: Sizes) -> dict[str, Any]:
    extra = [POWERTOOLS] if has_powertools() else []
    samples = _interleaved([*FUNCTIONS.values(), BASELINE, BOTOCORE, EMPTY, OURS, *extra], sizes.runs)
    functions = {name: function_figures(samples, statement) for name, statement in FUNCTIONS.items()}
    return {
        "benchmark": "cold_start",
        "runs": sizes.runs,
        "app": APP,
        "baseline": BASELINE,
        "botocore": BOTOCORE,
        "ratio": functions["api"]["ratio"],
        "cpuTimeRatio": functions["api"]["cpuTimeRatio"],
        "functions": functions,
        "heaviestImports": heaviest_imports(APP),
        "tickHeaviestImports": heaviest_imports(FUNCTIONS["tick"]),
        "observability": observability_figures(samples),
        "targets": {f"{name}Ratio<=1.3": functions[name]["ratio"] <= 1.3 for name in TARGETED},
    }


def function_figures(samples: dict[str, list[Sample]], statement: str) -> dict[str, Any]:
    """One handler module's process against both baselines: wall-clock and CPU-time ratios of medians."""
    own, baseline, botocore = samples[statement], samples[BASELINE], samples[BOTOCORE]
    return {
        "statement": statement,
        "ms": _ms(_wall(own)),
        "ratio": ratio(_wall(own), _wall(baseline)),
        "cpuTimeRatio": ratio(_cpu(own), _cpu(baseline)),
        "ratioToBotocore": ratio(_wall(own), _wall(botocore)),
        "cpuTimeRatioToBotocore": ratio(_cpu(own), _cpu(botocore)),
    }


def has_powertools() -> bool:
    return importlib.util.find_spec("aws_lambda_powertools") is not None


def observability_figures(samples: dict[str, list[Sample]]) -> dict[str, Any]:
    """Medians in ms, and how powertools compares with our writer: whole processes, and the cost each adds to
    an empty interpreter's start (the part an import choice can change)."""
    empty, ours = samples[EMPTY], samples[OURS]
    figures: dict[str, Any] = {"ours": OURS, "emptyMs": _ms(_wall(empty)), "oursMs": _ms(_wall(ours))}
    if POWERTOOLS not in samples:
        return {**figures, "powertools": None}
    powertools = samples[POWERTOOLS]
    return {
        **figures,
        "powertools": POWERTOOLS,
        "powertoolsVersion": importlib.metadata.version("aws-lambda-powertools"),
        "powertoolsMs": _ms(_wall(powertools)),
        "powertoolsToOursRatio": ratio(_wall(powertools), _wall(ours)),
        "powertoolsToOursCpuRatio": ratio(_cpu(powertools), _cpu(ours)),
        "addedOverEmptyRatio": ratio(_wall(powertools) - _wall(empty), max(_wall(ours) - _wall(empty), 1e-6)),
        "powertoolsHeaviestImports": heaviest_imports(POWERTOOLS),
    }


def _interleaved(statements: Sequence[str], runs: int) -> dict[str, list[Sample]]:
    """Each statement's samples, taken in rounds of one of each, so a busy moment slows them all alike."""
    for statement in statements:
        _python(statement)  # compile the .pyc files and fill the page cache first
    samples: dict[str, list[Sample]] = {statement: [] for statement in statements}
    for _ in range(runs):
        for statement in statements:
            samples[statement].append(_process(statement))
    return samples


def _wall(samples: Sequence[Sample]) -> float:
    return median([wall for wall, _ in samples])


def _cpu(samples: Sequence[Sample]) -> float:
    return median([cpu for _, cpu in samples])


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _process(statement: str) -> Sample:
    """(wall seconds, CPU seconds) of one interpreter running `statement`."""
    wall, cpu, _, _ = timed_process([sys.executable, "-c", statement], cwd=REPO)
    return wall, cpu


def _python(statement: str, *options: str) -> str:
    return timed_process([sys.executable, *options, "-c", statement], cwd=REPO)[3]


def heaviest_imports(statement: str, top: int = 8, runs: int = 3) -> dict[str, float]:
    """Top-level packages by their modules' own import time (`-X importtime`, each module's fastest of
    `runs`), as shares of the whole import."""
    fastest: dict[str, int] = {}
    for _ in range(runs):
        for line in _python(statement, "-X", "importtime").splitlines()[1:]:
            if not line.startswith("import time:"):
                continue  # the statement's own stderr, such as our log line
            self_micros, _, name = line.removeprefix("import time:").split("|")
            fastest[name.strip()] = min(int(self_micros), fastest.get(name.strip(), sys.maxsize))
    own: Counter[str] = Counter()
    for name, micros in fastest.items():
        own[name.split(".")[0]] += micros
    whole = sum(own.values())
    return {package: round(micros / whole, 3) for package, micros in own.most_common(top)}
