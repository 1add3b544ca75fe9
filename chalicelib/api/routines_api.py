"""Routines, their triggers and runs."""

from typing import Any

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.domain.queries import ROUTINE_PARAMS, RUN_PARAMS, RoutineQuery, RunQuery
from chalicelib.services import restore, routines, runs, triggers
from chalicelib.services.commands import CreateRoutine, CreateTrigger, RunRoutine, UpdateRoutine, UpdateTrigger

bp = Blueprint(__name__)
routine_routes = Routes(bp, "routines")
run_routes = Routes(bp, "runs")
trigger_routes = Routes(bp, "triggers")


@routine_routes.post("/companies/{companyId}/routines", status=201, errors=(403, 404, 409, 422))
def create_routine(call: Call, companyId: str, body: CreateRoutine) -> responses.Routine:
    """Create a routine

    Agents can only create routines assigned to themselves. `active` without an assignee is stored as a paused
    draft.
    """
    return responses.Routine.of(routines.create_routine(call.principal, companyId, body, call.now, runtime.new_id))


@routine_routes.get("/companies/{companyId}/routines", errors=(400, 403, 404, 422), query=ROUTINE_PARAMS)
def list_routines(call: Call, companyId: str) -> list[responses.RoutineListItem]:
    """List a company's routines, newest change first

    At most `limit` (default 200, at most 500). When more remain, the `X-Next-Cursor` response header holds the
    cursor to send back as `nextCursor`; the last page has none.
    """
    page = routines.list_routines(call.principal, companyId, RoutineQuery.parse(call.query))
    call.next_cursor(page.next_cursor)
    return [responses.RoutineListItem.of_detail(detail) for detail in page.items]


@routine_routes.get("/routines/{routineId}", errors=(403, 404))
def get_routine(call: Call, routineId: str) -> responses.RoutineDetail:
    """A routine, its triggers, recent runs and active issue"""
    return responses.RoutineDetail.at(routines.get_detail(call.principal, routineId), call.base_url)


@routine_routes.patch("/routines/{routineId}", errors=(403, 404, 409, 422))
def update_routine(call: Call, routineId: str, body: UpdateRoutine) -> responses.Routine:
    """Change a routine

    Archived is terminal (409); `active` needs an assignee (422).
    """
    return responses.Routine.of(routines.update_routine(call.principal, routineId, body, call.now, runtime.new_id))


@routine_routes.get("/routines/{routineId}/revisions", errors=(403, 404))
def list_revisions(call: Call, routineId: str) -> list[responses.Revision]:
    """A routine's revisions, newest first (at most 100)

    A revision is appended by creating or changing the routine, creating, changing, deleting a trigger or
    rotating its secret, and by restoring a revision.
    """
    return [responses.Revision.of(revision) for revision in routines.list_revisions(call.principal, routineId)]


@routine_routes.post("/routines/{routineId}/revisions/{revisionId}/restore", errors=(403, 404, 409, 422))
def restore_revision(call: Call, routineId: str, revisionId: str, body: dict[str, Any]) -> responses.RestoredRevision:
    """Restore a revision

    The routine's fields (not its folder) and its triggers become the revision's, as a new revision. Triggers
    the revision lacks are deleted; a trigger it names keeps its URL and secret, or is recreated with its id, a
    recreated webhook with a new URL and secret (in `secretMaterials`, shown here and never again).
    """
    restored = restore.restore_revision(call.principal, routineId, revisionId, call.base_url, call.now, runtime.new_id)
    return responses.RestoredRevision.of_restored(restored)


@run_routes.get("/routines/{routineId}/runs", errors=(403, 404, 422), query=RUN_PARAMS)
def list_runs(call: Call, routineId: str) -> list[responses.RunSummary]:
    """A routine's runs, newest first, each with its linked issue and trigger

    At most `limit` (default 50, clamped to 1 to 200). When more remain, the `X-Next-Cursor` response header holds
    the cursor to send back as `nextCursor`; the last page has none.
    """
    page = routines.list_runs(call.principal, routineId, RunQuery.parse(call.query))
    call.next_cursor(page.next_cursor)
    return [responses.RunSummary.of_summary(summary) for summary in page.items]


@run_routes.post("/routines/{routineId}/run", status=202, errors=(403, 404, 409, 422))
def run_routine(call: Call, routineId: str, body: RunRoutine) -> responses.Run:
    """Fire a routine now

    The concurrency policy still applies: the run may be `coalesced` or `skipped`. A repeated `idempotencyKey`
    returns the same run.
    """
    routine = routines.load_routine(routineId)
    return responses.Run.of(runs.run_routine(call.principal, routine, body, call.now, runtime.new_id))


@trigger_routes.post("/routines/{routineId}/triggers", status=201, errors=(403, 404, 422))
def create_trigger(call: Call, routineId: str, body: CreateTrigger) -> responses.TriggerWithSecret:
    """Add a trigger to a routine

    A webhook trigger's secret is in `secretMaterial`, shown here and never again.
    """
    routine = routines.load_routine(routineId)
    created = triggers.create_trigger(call.principal, routine, body, call.base_url, call.now, runtime.new_id)
    return responses.TriggerWithSecret.at(created, call.base_url)


@trigger_routes.patch("/routine-triggers/{triggerId}", errors=(403, 404, 422))
def update_trigger(call: Call, triggerId: str, body: UpdateTrigger) -> responses.Trigger:
    """Change a trigger"""
    changed = triggers.update_trigger(call.principal, triggerId, body, call.now, runtime.new_id)
    return responses.Trigger.at(changed, call.base_url)


@trigger_routes.delete("/routine-triggers/{triggerId}", status=204, errors=(403, 404))
def delete_trigger(call: Call, triggerId: str) -> None:
    """Delete a trigger"""
    triggers.delete_trigger(call.principal, triggerId, call.now, runtime.new_id)


@trigger_routes.post("/routine-triggers/{triggerId}/rotate-secret", errors=(403, 404, 422))
def rotate_secret(call: Call, triggerId: str, body: dict[str, Any]) -> responses.TriggerWithSecret:
    """Replace a webhook's secret

    The old secret stops working at once; the URL stays the same. Any JSON object is accepted as the body.
    """
    rotated = triggers.rotate_secret(call.principal, triggerId, call.base_url, call.now, runtime.new_id)
    return responses.TriggerWithSecret.at(rotated, call.base_url)
