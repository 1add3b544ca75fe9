"""7. `routines status` for a company of 1,000 routines: the whole command, as an operator runs it.

The routines are made through the services, as the API makes them (a schedule trigger each, with its revision),
and each has run once by hand, so every row has a last run and an open issue to read. The command runs as a new
process against the bench's DynamoDB Local (named by the environment, as for real tables), interleaved with
`routines status --help`, the same process doing no more than start and parse its arguments.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.fixtures import make_tenant
from bench.stats import median, ratio, timed, timed_process
from chalicelib import runtime
from chalicelib.domain.models import OPERATOR
from chalicelib.services import routines, triggers
from chalicelib.services.commands import CreateRoutine, CreateScheduleTrigger, RunRoutine
from chalicelib.services.runs import run_routine
from chalicelib.services.status import company_status

Sample = tuple[float, float]


@dataclass(frozen=True)
class Sizes:
    routines: int = 1000
    runs: int = 7


def run(sizes: Sizes) -> dict[str, Any]:
    company_id = _seed(sizes.routines)
    status = [sys.executable, "-m", "routines.cli", "status", company_id, "--json"]
    startup = [sys.executable, "-m", "routines.cli", "status", "--help"]
    samples: dict[str, list[Sample]] = {"status": [], "startup": []}
    # The first run compiles the .pyc files and fills the page cache; it also checks the command's answer.
    shown = json.loads(timed_process(status)[2])
    if len(shown) != sizes.routines:
        raise RuntimeError(f"routines status showed {len(shown)} routines of {sizes.routines}")
    for _ in range(sizes.runs):
        samples["status"].append(_command(status))
        samples["startup"].append(_command(startup))
    in_process = [timed(lambda: company_status(OPERATOR, company_id)) for _ in range(sizes.runs)]
    wall = median([sample[0] for sample in samples["status"]])
    return {
        "benchmark": "status_speed",
        "routines": sizes.routines,
        "runs": sizes.runs,
        "statusSeconds": round(wall, 3),
        "statusCpuSeconds": round(median([sample[1] for sample in samples["status"]]), 3),
        "startupSeconds": round(median([sample[0] for sample in samples["startup"]]), 3),
        "statusToStartupRatio": ratio(wall, median([sample[0] for sample in samples["startup"]])),
        "companyStatusInProcessSeconds": round(median(in_process), 3),
        "rowsShown": len(shown),
        "targets": {"statusSeconds<=1": wall <= 1.0},
    }


def _seed(count: int) -> str:
    """A company of `count` routines, each with a weekly schedule and one manual run (an open issue)."""
    tenant = make_tenant("Bench status")
    now = runtime.now()

    def make(index: int) -> None:
        routine = routines.create_routine(
            OPERATOR,
            tenant.company_id,
            CreateRoutine(title=f"Status {index}", assignee_agent_id=tenant.agent_id),
            now,
            runtime.new_id,
        )
        weekly = CreateScheduleTrigger(kind="schedule", cron_expression="0 9 * * 1", timezone="Europe/Amsterdam")
        triggers.create_trigger(OPERATOR, routine, weekly, "http://127.0.0.1", now, runtime.new_id)
        run_routine(OPERATOR, routines.load_routine(routine.id), RunRoutine(), now, runtime.new_id)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(count)))
    return tenant.company_id


def _command(argv: list[str]) -> Sample:
    """(wall seconds, CPU seconds) of one process; its output is checked, then dropped."""
    wall, cpu, _, _ = timed_process(argv)
    return wall, cpu
