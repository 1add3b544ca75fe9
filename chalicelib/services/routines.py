"""Routines: create, change, read; the lifecycle active ⇄ paused → archived."""

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.domain.ids import IdFactory, is_id
from chalicelib.domain.models import (
    Agent,
    Issue,
    Principal,
    Project,
    Revision,
    Routine,
    RoutineStatus,
    Run,
    Trigger,
    TriggerKind,
)
from chalicelib.domain.queries import RoutineQuery, RunQuery
from chalicelib.domain.revisions import CREATED, UPDATED, UPDATED_ELSEWHERE, same_routine
from chalicelib.domain.timefmt import to_iso
from chalicelib.domain.variables import check_defaults, check_schedulable, sync_variables
from chalicelib.services.auth import require_company, require_manage
from chalicelib.services.commands import CreateRoutine, UpdateRoutine
from chalicelib.services.directory import get_company, get_company_with
from chalicelib.services.references import check_references, directory_refs
from chalicelib.services.revisions import current_triggers, current_triggers_of, next_revision, pointing_at, retrying
from chalicelib.services.triggers import reschedule
from chalicelib.store import directory, issues, revisions, routines, runs
from chalicelib.store.pages import Page

RECENT_RUNS = 25
REDACTED = "***REDACTED***"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="routine-read")


@dataclass(frozen=True)
class RunSummary:
    """A run with the issue it links to and the trigger that fired it, as Paperclip's run lists show them."""

    run: Run
    linked_issue: Issue | None
    trigger: Trigger | None


@dataclass(frozen=True)
class RoutineDetail:
    """A routine with what its pages show; only the detail reads its project, assignee and parent issue (a
    list leaves them None)."""

    routine: Routine
    triggers: list[Trigger]
    recent_runs: list[RunSummary]
    active_issue: Issue | None
    project: Project | None = None
    assignee: Agent | None = None
    parent_issue: Issue | None = None


def load_routine(routine_id: str) -> Routine:
    routine = routines.get_routine(routine_id) if is_id(routine_id) else None
    if routine is None:
        raise NotFound("Routine not found")
    return routine


def create_routine(
    principal: Principal,
    company_id: str,
    command: CreateRoutine,
    now: datetime,
    new_id: IdFactory,
) -> Routine:
    """Creates a routine; `active` without an assignee is stored as a paused draft."""
    changed = frozenset(command.model_fields_set)
    _, members = get_company_with(principal, company_id, directory_refs(command, changed))
    if principal.is_agent and command.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only manage routines assigned to themselves")
    stamp = to_iso(now)
    routine = Routine(
        id=new_id(),
        company_id=company_id,
        created_at=stamp,
        updated_at=stamp,
        created_by_agent_id=principal.agent_id,
        updated_by_agent_id=principal.agent_id,
        **command.model_dump(exclude={"variables", "env"}),
        variables=command.definitions() or (),
        env=command.env_json(),
    )
    routine = _with_variables(routine)
    if routine.status == RoutineStatus.active and routine.assignee_agent_id is None:
        routine = replace(routine, status=RoutineStatus.paused)
    check_references(routine, changed, members)
    revision = next_revision(routine, (), CREATED, principal, now, new_id)
    routine = pointing_at(routine, revision)
    routines.put_routine(routine, revision)
    return routine


def update_routine(
    principal: Principal, routine_id: str, command: UpdateRoutine, now: datetime, new_id: IdFactory
) -> Routine:
    """Applies a partial change, recorded as a revision when a recorded field changed; archived is terminal,
    `active` needs an assignee, and a `baseRevisionId` that is no longer the latest is a 409."""
    return retrying(lambda: _update_routine(principal, routine_id, command, now, new_id))


def _update_routine(
    principal: Principal, routine_id: str, command: UpdateRoutine, now: datetime, new_id: IdFactory
) -> Routine:
    routine = load_routine(routine_id)
    require_manage(principal, routine)
    if principal.is_agent and command.sent("assignee_agent_id") and command.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only assign routines to themselves")
    changed = replace(
        routine, **command.routine_changes(routine), updated_at=to_iso(now), updated_by_agent_id=principal.agent_id
    )
    changed = _with_variables(changed)
    changed = settle_status(routine, changed, explicit=command.sent("status"))
    _check_schedules_can_fire(changed)
    check_references(changed, frozenset(command.model_fields_set))
    _check_base(routine, command.base_revision_id)
    revision = None
    if not same_routine(routine, changed):
        revision = next_revision(changed, current_triggers(routine), UPDATED, principal, now, new_id)
        changed = pointing_at(changed, revision)
    if changed.status == RoutineStatus.active != routine.status:
        _index_triggers(changed, now)
    routines.save_routine(changed, routine, revision, command.base_revision_id)
    if routine.status == RoutineStatus.active != changed.status:
        _index_triggers(changed, now)
    return replace(changed, version=routine.version + 1)


def _check_base(routine: Routine, base_revision_id: str | None) -> None:
    """A PATCH made from an older revision than the latest is refused, naming the latest."""
    if base_revision_id is not None and base_revision_id != routine.latest_revision_id:
        raise Conflict(UPDATED_ELSEWHERE, {"currentRevisionId": routine.latest_revision_id})


def _with_variables(routine: Routine) -> Routine:
    """The routine with one variable per placeholder, each default usable, and its env normalised."""
    variables = sync_variables(routine.variables, routine.title, routine.description)
    check_defaults(variables)
    return replace(routine, variables=variables, env=normalized_env(routine.env))


def normalized_env(env: dict[str, Any] | None) -> dict[str, Any] | None:
    """Plain bindings as `{type, value}`; secret references are refused until this service keeps secrets."""
    if env is None:
        return None
    normalized: dict[str, Any] = {}
    for name, binding in env.items():
        if not _ENV_NAME.match(name):
            raise Invalid(f"Invalid environment variable name: {name}")
        plain = {"type": "plain", "value": binding} if isinstance(binding, str) else binding
        if plain.get("type") != "plain":
            raise Invalid(f"Secret references are not supported by this server: {name}")
        if plain["value"] == REDACTED:
            raise Invalid(f"Refusing to persist redacted placeholder for key: {name}")
        normalized[name] = {"type": "plain", "value": plain["value"]}
    return normalized


def _check_schedules_can_fire(routine: Routine) -> None:
    """A routine with an enabled schedule must keep a usable default for each required variable."""
    if not routine.variables:
        return
    schedules = [t for t in routines.list_triggers(routine.id) if t.kind == TriggerKind.schedule and t.enabled]
    if schedules:
        check_schedulable(routine.variables)


def settle_status(before: Routine, after: Routine, explicit: bool) -> Routine:
    if before.status == RoutineStatus.archived and after.status != RoutineStatus.archived:
        raise Conflict("Archived routines cannot be reactivated")
    if after.status == RoutineStatus.active and after.assignee_agent_id is None:
        if explicit:
            raise Invalid("Default agent required")
        return replace(after, status=RoutineStatus.paused)
    return after


def _index_triggers(routine: Routine, now: datetime) -> None:
    """Puts the routine's schedule triggers in or out of the `due` index; activation reschedules from now."""
    for trigger in routines.list_triggers(routine.id):
        if routine.status == RoutineStatus.active:
            routines.set_due(reschedule(trigger, now), routine.status)
        else:
            routines.unindex_if_inactive(trigger)


def get_detail(principal: Principal, routine_id: str) -> RoutineDetail:
    """The routine with its triggers, recent runs, active issue, project, assignee and parent issue: after the
    routine, two queries and two batch reads, all at once but the issues' batch."""
    routine = load_routine(routine_id)
    require_company(principal, routine.company_id)
    members = _POOL.submit(_members_of, routine)
    [detail] = details_of([routine], RECENT_RUNS, with_parent=True)
    project, assignee = members.result()
    return replace(detail, project=project, assignee=assignee)


def _members_of(routine: Routine) -> tuple[Project | None, Agent | None]:
    wanted: list[tuple[type[directory.AnyMember], str]] = []
    if routine.project_id:
        wanted.append((Project, routine.project_id))
    if routine.assignee_agent_id:
        wanted.append((Agent, routine.assignee_agent_id))
    found = directory.get_members(routine.company_id, wanted)
    project = next((member for member in found if isinstance(member, Project)), None)
    return project, next((member for member in found if isinstance(member, Agent)), None)


def details_of(found: list[Routine], run_limit: int, with_parent: bool = False) -> list[RoutineDetail]:
    """Each routine with its triggers and latest runs (see `_triggers_and_runs`) and, in batches of a hundred
    for all of them at once, its active issue, the runs' issues and, `with_parent`, its parent issue."""
    reads = _triggers_and_runs(found, run_limit)
    wanted = {newest.issue_id for routine in found if (newest := routine.newest_open_issue)}
    wanted |= {run.linked_issue_id for _, recent in reads for run in recent if run.linked_issue_id}
    if with_parent:
        wanted |= {routine.parent_issue_id for routine in found if routine.parent_issue_id}
    linked = issues.get_issues(wanted) if wanted else {}
    return [
        RoutineDetail(
            routine,
            triggers,
            _summaries(recent, triggers, linked),
            _active_issue(routine, linked),
            parent_issue=linked.get(routine.parent_issue_id or "") if with_parent else None,
        )
        for routine, (triggers, recent) in zip(found, reads, strict=True)
    ]


def _triggers_and_runs(found: list[Routine], run_limit: int) -> list[tuple[list[Trigger], list[Run]]]:
    """Each routine's triggers and latest runs. With one run each (lists, status), in batches, querying only
    what the batches cannot answer, the triggers' reads beside the runs'; with more, a query each for both, in
    parallel."""
    if run_limit != 1:
        return list(_POOL.map(lambda routine: _queried(routine, run_limit), found))
    current = _POOL.submit(current_triggers_of, found)
    latest = _last_runs(found)
    queried = [routine for routine in found if routine.id not in latest]
    listed = _POOL.map(lambda routine: runs.list_runs(routine.id, 1), queried)
    latest.update(zip((routine.id for routine in queried), listed, strict=True))
    triggers = current.result()
    return [(triggers[routine.id], latest[routine.id]) for routine in found]


def _queried(routine: Routine, run_limit: int) -> tuple[list[Trigger], list[Run]]:
    return routines.list_triggers(routine.id), runs.list_runs(routine.id, run_limit)


def _last_runs(found: list[Routine]) -> dict[str, list[Run]]:
    """The last run of each routine that records it, by its `lastRunId` in batches; none for a routine that
    tracks its runs and has none. A routine without the record, or whose last run expired, is left out."""
    keys = {(routine.id, routine.last_run_id) for routine in found if routine.last_run_id}
    read = runs.get_runs(keys) if keys else {}
    latest = {routine_id: [run] for routine_id, run in read.items()}
    latest.update({routine.id: [] for routine in found if routine.runs_tracked and not routine.last_run_id})
    return latest


def _active_issue(routine: Routine, linked: dict[str, Issue]) -> Issue | None:
    newest = routine.newest_open_issue
    return linked.get(newest.issue_id) if newest else None


def _summaries(found: list[Run], triggers: list[Trigger], linked: dict[str, Issue]) -> list[RunSummary]:
    by_id = {trigger.id: trigger for trigger in triggers}
    return [RunSummary(run, linked.get(run.linked_issue_id or ""), by_id.get(run.trigger_id or "")) for run in found]


def list_routines(principal: Principal, company_id: str, query: RoutineQuery) -> Page[RoutineDetail]:
    """One page of the company's routines, newest change first, each with its triggers, last run and active
    issue: batch reads of a hundred (revisions, triggers, last runs, issues), whatever the page's size."""
    get_company(principal, company_id)
    page = routines.routine_page(company_id, query)
    return Page(details_of(page.items, 1), page.next_cursor)


def list_runs(principal: Principal, routine_id: str, query: RunQuery) -> Page[RunSummary]:
    """One page of the routine's runs, newest first, each with its linked issue and trigger."""
    routine = load_routine(routine_id)
    require_company(principal, routine.company_id)
    page = runs.run_page(routine.id, query.limit, query.cursor)
    wanted = {run.linked_issue_id for run in page.items if run.linked_issue_id}
    linked = issues.get_issues(wanted) if wanted else {}
    return Page(_summaries(page.items, routines.list_triggers(routine.id), linked), page.next_cursor)


def list_revisions(principal: Principal, routine_id: str) -> list[Revision]:
    """The routine's newest hundred revisions, newest first."""
    routine = load_routine(routine_id)
    require_manage(principal, routine)
    return revisions.list_revisions(routine.id)
