"""Restoring a revision: the routine's recorded fields and its triggers as the revision holds them."""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, Forbidden, NotFound
from chalicelib.domain.ids import IdFactory, is_id
from chalicelib.domain.models import (
    Principal,
    Revision,
    Routine,
    ScheduleSpec,
    Trigger,
    TriggerKind,
    WebhookSpec,
)
from chalicelib.domain.revisions import ALREADY_LATEST, restored_from, restored_routine, restored_trigger
from chalicelib.domain.signing import SigningMode, new_public_id, new_secret
from chalicelib.domain.timefmt import to_iso
from chalicelib.services.auth import require_manage
from chalicelib.services.references import check_assignable
from chalicelib.services.revisions import current_triggers, next_revision, pointing_at, retrying
from chalicelib.services.routines import load_routine, settle_status
from chalicelib.services.triggers import SecretMaterial, reschedule, webhook_url
from chalicelib.store import revisions, routines


@dataclass(frozen=True)
class Restored:
    """What a restore answers: the routine, the revision it appended, and the secrets of recreated webhooks."""

    routine: Routine
    revision: Revision
    restored_from: Revision
    secret_materials: list[tuple[str, SecretMaterial]]


def restore_revision(
    principal: Principal, routine_id: str, revision_id: str, base_url: str, now: datetime, new_id: IdFactory
) -> Restored:
    """Makes the revision's fields and triggers current, as revision N+1: triggers it lacks are deleted, those
    it names are overwritten (keeping their URL and secret) or recreated with their ids (a recreated webhook
    gets a new URL and secret)."""
    return retrying(lambda: _restore(principal, routine_id, revision_id, base_url, now, new_id))


def _restore(
    principal: Principal, routine_id: str, revision_id: str, base_url: str, now: datetime, new_id: IdFactory
) -> Restored:
    routine = load_routine(routine_id)
    require_manage(principal, routine)
    target = revisions.get_revision(routine.id, revision_id) if is_id(revision_id) else None
    if target is None:
        raise NotFound("Routine revision not found")
    restored = restored_routine(routine, target.snapshot)
    _check_assignee(principal, restored)
    if target.id == routine.latest_revision_id:
        raise Conflict(ALREADY_LATEST, {"currentRevisionId": routine.latest_revision_id})
    restored = replace(restored, updated_at=to_iso(now), updated_by_agent_id=principal.agent_id)
    restored = settle_status(routine, restored, explicit=False)
    removed, saved, added = _plan_triggers(routine, restored, target, now)
    summary = restored_from(target.revision_number)
    revision = next_revision(restored, [*saved, *added], summary, principal, now, new_id, restored_from=target)
    restored = pointing_at(restored, revision)
    routines.restore_revision(routines.Restore(restored, routine, revision, removed, saved, added))
    materials = [
        (trigger.id, SecretMaterial(webhook_url(base_url, trigger.webhook.public_id), trigger.webhook.secret))
        for trigger in added
        if trigger.webhook
    ]
    return Restored(replace(restored, version=routine.version + 1), revision, target, materials)


TriggerPlan = tuple[tuple[Trigger, ...], tuple[Trigger, ...], tuple[Trigger, ...]]


def _plan_triggers(routine: Routine, restored: Routine, target: Revision, now: datetime) -> TriggerPlan:
    """The triggers to delete, to overwrite and to recreate."""
    current = {trigger.id: trigger for trigger in current_triggers(routine)}
    members = {member["id"]: member for member in target.snapshot.get("triggers", ())}
    removed = tuple(trigger for key, trigger in current.items() if key not in members)
    saved = tuple(_kept(current[key], member, now) for key, member in members.items() if key in current)
    added = tuple(_recreated(restored, member, now) for key, member in members.items() if key not in current)
    return removed, saved, added


def _check_assignee(principal: Principal, restored: Routine) -> None:
    if restored.assignee_agent_id:
        check_assignable(restored.company_id, restored.assignee_agent_id)
    if principal.is_agent and restored.assignee_agent_id != principal.agent_id:
        raise Forbidden("Agents can only restore routine revisions assigned to themselves")


def _kept(trigger: Trigger, member: Mapping[str, Any], now: datetime) -> Trigger:
    """A trigger that still exists, with the revision's settings; its URL, secret and history stay."""
    return reschedule(replace(restored_trigger(trigger, member), updated_at=to_iso(now)), now)


def _recreated(routine: Routine, member: Mapping[str, Any], now: datetime) -> Trigger:
    """A trigger the revision names that is gone: the same id, and for a webhook a new URL and secret."""
    stamp = to_iso(now)
    kind = TriggerKind(member["kind"])
    fresh = Trigger(
        id=member["id"],
        routine_id=routine.id,
        company_id=routine.company_id,
        kind=kind,
        label=member.get("label"),
        enabled=bool(member.get("enabled", True)),
        created_at=stamp,
        updated_at=stamp,
    )
    if kind == TriggerKind.schedule:
        fresh = replace(fresh, schedule=ScheduleSpec(member["cronExpression"], member["timezone"]))
    if kind == TriggerKind.webhook:
        mode, window = SigningMode(member["signingMode"]), int(member["replayWindowSec"])
        fresh = replace(fresh, webhook=WebhookSpec(new_public_id(), new_secret(), mode, window, stamp))
    return reschedule(restored_trigger(fresh, member), now)
