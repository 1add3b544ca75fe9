"""The operator's view of a company's routines (`routines status`, `routines runs`): reads only, no scans."""

from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.models import Issue, Principal, Routine, Run, RunStatus, Trigger, TriggerKind
from chalicelib.domain.policies import trigger_result
from chalicelib.services.auth import require_company
from chalicelib.services.directory import get_company
from chalicelib.services.routines import RoutineDetail, load_routine
from chalicelib.store import issues, routines, runs

RECENT_RUNS = 10  # how far back a webhook's failed deliveries count as recent
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="status-read")


def failing_webhooks(detail: RoutineDetail) -> list[Trigger]:
    """Webhook triggers whose last firing failed, or with a failed run among the routine's recent ones."""
    failed = {run.trigger_id for run in detail.recent_runs if run.status == RunStatus.failed}
    return [
        trigger
        for trigger in detail.triggers
        if trigger.kind == TriggerKind.webhook
        and (trigger.id in failed or trigger.last_result == trigger_result(RunStatus.failed, None))
    ]


def company_status(principal: Principal, company_id: str) -> list[RoutineDetail]:
    """The company's routines, newest change first: a query per routine for triggers and for runs, in
    parallel, and the open issues in batches."""
    get_company(principal, company_id)
    found = routines.list_routines(company_id)
    reads = list(_POOL.map(_triggers_and_runs, found))
    open_ids = {newest.issue_id for routine in found if (newest := routine.newest_open_issue)}
    open_issues = issues.get_issues(open_ids) if open_ids else {}
    return [
        RoutineDetail(routine, triggers, recent, _open_issue(routine, open_issues))
        for routine, (triggers, recent) in zip(found, reads, strict=True)
    ]


def _triggers_and_runs(routine: Routine) -> tuple[list[Trigger], list[Run]]:
    return routines.list_triggers(routine.id), runs.list_runs(routine.id, RECENT_RUNS)


def _open_issue(routine: Routine, open_issues: dict[str, Issue]) -> Issue | None:
    newest = routine.newest_open_issue
    return open_issues.get(newest.issue_id) if newest else None


def newest_runs(principal: Principal, routine_id: str, limit: int) -> list[Run]:
    """The routine's latest runs, newest first (ids are time-ordered)."""
    routine = load_routine(routine_id)
    require_company(principal, routine.company_id)
    return runs.list_runs(routine.id, limit)
