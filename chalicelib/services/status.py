"""The operator's view of a company's routines (`routines status`, `routines runs`): reads only, no scans."""

from chalicelib.domain.models import Principal, Run, RunStatus, Trigger, TriggerKind
from chalicelib.domain.policies import trigger_result
from chalicelib.services.auth import require_company
from chalicelib.services.directory import get_company
from chalicelib.services.routines import RoutineDetail, details_of, load_routine
from chalicelib.store import routines, runs


def failing_webhooks(detail: RoutineDetail) -> list[Trigger]:
    """Webhook triggers whose last firing failed, or that fired the routine's last run, which failed."""
    failed = {summary.run.trigger_id for summary in detail.recent_runs if summary.run.status == RunStatus.failed}
    return [
        trigger
        for trigger in detail.triggers
        if trigger.kind == TriggerKind.webhook
        and (trigger.id in failed or trigger.last_result == trigger_result(RunStatus.failed, None))
    ]


def company_status(principal: Principal, company_id: str) -> list[RoutineDetail]:
    """The company's routines, newest change first, each with its last run: the routines in one query, then
    their revisions, triggers, last runs and issues in batches of a hundred."""
    get_company(principal, company_id)
    return details_of(routines.list_routines(company_id), 1)


def newest_runs(principal: Principal, routine_id: str, limit: int) -> list[Run]:
    """The routine's latest runs, newest first (ids are time-ordered)."""
    routine = load_routine(routine_id)
    require_company(principal, routine.company_id)
    return runs.list_runs(routine.id, limit)
