"""5. Cold start: a new interpreter importing the app, against one importing only botocore and chalice."""

import resource
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import median, ratio, timed

REPO = Path(__file__).resolve().parents[1]
APP = "import app"
BASELINE = "import botocore.session, chalice"


@dataclass(frozen=True)
class Sizes:
    runs: int = 20


def run(sizes: Sizes) -> dict[str, Any]:
    for statement in (APP, BASELINE):
        _python(statement)  # compile the .pyc files and fill the page cache first
    app, baseline = [], []
    for _ in range(sizes.runs):  # interleaved, so a busy moment slows both alike
        app.append(_process(APP))
        baseline.append(_process(BASELINE))
    result = ratio(median([wall for wall, _ in app]), median([wall for wall, _ in baseline]))
    return {
        "benchmark": "cold_start",
        "runs": sizes.runs,
        "app": APP,
        "baseline": BASELINE,
        "ratio": result,
        "cpuTimeRatio": ratio(median([cpu for _, cpu in app]), median([cpu for _, cpu in baseline])),
        "heaviestImports": heaviest_imports(APP),
        "targets": {"ratio<=1.3": result <= 1.3},
    }


def _process(statement: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one interpreter running `statement`; CPU time ignores busy neighbours."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(lambda: _python(statement))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _python(statement: str, *options: str) -> str:
    done = subprocess.run(
        [sys.executable, *options, "-c", statement], cwd=REPO, check=True, capture_output=True, text=True
    )
    return done.stderr


def heaviest_imports(statement: str, top: int = 8, runs: int = 3) -> dict[str, float]:
    """Top-level packages by their modules' own import time (`-X importtime`, each module's fastest of
    `runs`), as shares of the whole import."""
    fastest: dict[str, int] = {}
    for _ in range(runs):
        for line in _python(statement, "-X", "importtime").splitlines()[1:]:
            self_micros, _, name = line.removeprefix("import time:").split("|")
            fastest[name.strip()] = min(int(self_micros), fastest.get(name.strip(), sys.maxsize))
    own: Counter[str] = Counter()
    for name, micros in fastest.items():
        own[name.split(".")[0]] += micros
    whole = sum(own.values())
    return {package: round(micros / whole, 3) for package, micros in own.most_common(top)}
