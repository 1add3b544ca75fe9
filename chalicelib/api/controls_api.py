"""Operator controls: schedule previews, backfills and project pause."""

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.domain.errors import BadRequest
from chalicelib.services import backfill, directory, routines, triggers
from chalicelib.services.commands import PREVIEW_DEFAULT, PREVIEW_MAX, Backfill, PauseProject, PreviewSchedule

bp = Blueprint(__name__)
trigger_routes = Routes(bp, "triggers")
run_routes = Routes(bp, "runs")
project_routes = Routes(bp, "directory")


@trigger_routes.get("/routine-triggers/{triggerId}/preview", errors=(403, 404, 422), query=("count",))
def preview_trigger(call: Call, triggerId: str) -> responses.SchedulePreview:
    """The next fire times of a schedule trigger

    Computed by the tick's own code under its DST rule; the first is the trigger's `nextRunAt`. `count` is 1-100
    (10).
    """
    times = triggers.preview_trigger(call.principal, triggerId, _count(call.query("count")), call.now)
    return responses.SchedulePreview.of_times(times)


def _count(text: str | None) -> int:
    if text is None:
        return PREVIEW_DEFAULT
    if not text.isdigit() or not 1 <= int(text) <= PREVIEW_MAX:
        raise BadRequest(f"count must be a whole number from 1 to {PREVIEW_MAX}")
    return int(text)


@trigger_routes.post("/schedule-preview", errors=(422,))
def preview_schedule(call: Call, body: PreviewSchedule) -> responses.SchedulePreview:
    """The next fire times of an expression not yet saved

    422 with the reason when the expression or the timezone is invalid.
    """
    return responses.SchedulePreview.of_times(triggers.preview_schedule(body, call.now))


@run_routes.post("/routines/{routineId}/backfill", errors=(403, 404, 409, 422))
def backfill_routine(call: Call, routineId: str, body: Backfill) -> responses.Backfilled:
    """Fire the missed slots of a schedule trigger

    Every slot in `[from, to)` fires once, oldest first, under the concurrency policy, as a `schedule` run marked
    `backfill`; a slot that already fired is not fired again and is listed in `alreadyFired`. At most 100 slots;
    `to` must not be in the future (400).
    """
    routine = routines.load_routine(routineId)
    done = backfill.backfill(call.principal, routine, body, call.now, runtime.new_id)
    return responses.Backfilled.of_backfill(done)


@project_routes.post("/projects/{projectId}/pause", errors=(403, 404))
def pause_project(call: Call, projectId: str, body: PauseProject) -> responses.Project:
    """Pause a project (board key)

    Its routines' schedule slots are recorded as `skipped` runs (`failureReason: paused`) with no issue, and their
    triggers advance; manual and webhook runs still create issues; checkout of its issues is a 409.
    """
    return responses.Project.of(directory.pause_project(call.principal, projectId, body, call.now))


@project_routes.post("/projects/{projectId}/resume", errors=(403, 404))
def resume_project(call: Call, projectId: str) -> responses.Project:
    """Resume a project (board key)

    Its schedules fire from their next slot; the slots skipped while it was paused are not caught up.
    """
    return responses.Project.of(directory.resume_project(call.principal, projectId))
