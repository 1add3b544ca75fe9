"""Routines, their triggers and runs."""

from typing import Any

from chalice import Blueprint

from chalicelib import runtime
from chalicelib.api import render, schemas
from chalicelib.api.http import Call, route
from chalicelib.services import routines, runs, triggers

bp = Blueprint(__name__)
RUNS_DEFAULT, RUNS_MAX = 50, 200


@route(bp, "/companies/{companyId}/routines", methods=("POST",), status=201)
def create_routine(call: Call, companyId: str) -> dict[str, Any]:
    fields = call.body(schemas.CreateRoutine).fields()
    return render.routine(routines.create_routine(call.principal, companyId, fields, call.now, runtime.new_id))


@route(bp, "/companies/{companyId}/routines")
def list_routines(call: Call, companyId: str) -> list[dict[str, Any]]:
    found = routines.list_routines(call.principal, companyId, call.query("projectId"))
    return [render.list_item(item) for item in found]


@route(bp, "/routines/{routineId}")
def get_routine(call: Call, routineId: str) -> dict[str, Any]:
    return render.detail(routines.get_detail(call.principal, routineId), call.base_url)


@route(bp, "/routines/{routineId}", methods=("PATCH",))
def update_routine(call: Call, routineId: str) -> dict[str, Any]:
    fields = call.body(schemas.UpdateRoutine).fields()
    return render.routine(routines.update_routine(call.principal, routineId, fields, call.now))


@route(bp, "/routines/{routineId}/runs")
def list_runs(call: Call, routineId: str) -> list[dict[str, Any]]:
    found = routines.list_runs(call.principal, routineId, _limit(call.query("limit")))
    return [render.run(run) for run in found]


def _limit(text: str | None) -> int:
    """Default 50, clamped to 1-200; anything non-numeric is the default, as in the reference."""
    try:
        return min(max(int(text or RUNS_DEFAULT), 1), RUNS_MAX)
    except ValueError:
        return RUNS_DEFAULT


@route(bp, "/routines/{routineId}/run", methods=("POST",), status=202)
def run_routine(call: Call, routineId: str) -> dict[str, Any]:
    fields = call.body(schemas.RunRoutine).fields()
    routine = routines.load_routine(routineId)
    return render.run(runs.run_routine(call.principal, routine, fields, call.now, runtime.new_id))


@route(bp, "/routines/{routineId}/triggers", methods=("POST",), status=201)
def create_trigger(call: Call, routineId: str) -> dict[str, Any]:
    fields = call.body(schemas.CreateTrigger).fields()  # a discriminated union by `kind`
    routine = routines.load_routine(routineId)
    trigger, material = triggers.create_trigger(
        call.principal, routine, fields, call.base_url, call.now, runtime.new_id
    )
    return {
        "trigger": render.trigger(trigger, call.base_url),
        "secretMaterial": render.secret_material(material),
    }


@route(bp, "/routine-triggers/{triggerId}", methods=("PATCH",))
def update_trigger(call: Call, triggerId: str) -> dict[str, Any]:
    fields = call.body(schemas.UpdateTrigger).fields()
    return render.trigger(
        triggers.update_trigger(call.principal, triggerId, fields, call.now),
        call.base_url,
    )


@route(bp, "/routine-triggers/{triggerId}", methods=("DELETE",), status=204)
def delete_trigger(call: Call, triggerId: str) -> None:
    triggers.delete_trigger(call.principal, triggerId)


@route(bp, "/routine-triggers/{triggerId}/rotate-secret", methods=("POST",))
def rotate_secret(call: Call, triggerId: str) -> dict[str, Any]:
    call.body(schemas.AnyObject)
    trigger, material = triggers.rotate_secret(call.principal, triggerId, call.base_url, call.now)
    return {
        "trigger": render.trigger(trigger, call.base_url),
        "secretMaterial": render.secret_material(material),
    }
