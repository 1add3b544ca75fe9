"""Triggers: schedule (cron), webhook (public URL and secret) and api."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain.cron import FireTime, Schedule, next_fire_after, parse_schedule, preview
from chalicelib.domain.errors import Invalid, NotFound
from chalicelib.domain.ids import IdFactory, is_id
from chalicelib.domain.models import Principal, Routine, ScheduleSpec, Trigger, TriggerKind, WebhookSpec
from chalicelib.domain.revisions import ROTATED, created_trigger, deleted_trigger, updated_trigger
from chalicelib.domain.signing import new_public_id, new_secret
from chalicelib.domain.timefmt import from_iso, iso_or_none, to_iso
from chalicelib.domain.variables import check_schedulable
from chalicelib.services.auth import require_company, require_manage
from chalicelib.services.commands import (
    CreateScheduleTrigger,
    CreateTrigger,
    CreateWebhookTrigger,
    PreviewSchedule,
    UpdateTrigger,
)
from chalicelib.services.revisions import current_triggers, next_revision, retrying, with_trigger
from chalicelib.store import routines

_SCHEDULE_FIELDS = ("cron_expression", "timezone")
_WEBHOOK_FIELDS = ("signing_mode", "replay_window_sec")
# Fire times fall on whole minutes: starting just before a stored slot lists that slot first.
_JUST_BEFORE = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SecretMaterial:
    webhook_url: str
    webhook_secret: str


@dataclass(frozen=True)
class TriggerWithSecret:
    """A trigger as its create and rotate-secret answers show it: the only times its secret is seen."""

    trigger: Trigger
    secret_material: SecretMaterial | None


def webhook_url(base_url: str, public_id: str) -> str:
    return f"{base_url}/api/routine-triggers/public/{public_id}/fire"


def load_trigger(trigger_id: str) -> tuple[Trigger, Routine]:
    trigger = routines.get_trigger(trigger_id) if is_id(trigger_id) else None
    routine = routines.get_routine(trigger.routine_id) if trigger else None
    if trigger is None or routine is None:
        raise NotFound("Routine trigger not found")
    return trigger, routine


def create_trigger(
    principal: Principal,
    routine: Routine,
    command: CreateTrigger,
    base_url: str,
    now: datetime,
    new_id: IdFactory,
) -> TriggerWithSecret:
    """Adds a trigger; a webhook's secret is returned here and never again."""
    require_manage(principal, routine)
    stamp = to_iso(now)
    trigger = Trigger(
        id=new_id(),
        routine_id=routine.id,
        company_id=routine.company_id,
        kind=TriggerKind(command.kind),
        label=command.label,
        enabled=command.enabled,
        created_at=stamp,
        updated_at=stamp,
    )
    if isinstance(command, CreateScheduleTrigger):
        check_schedulable(routine.variables)
        spec = ScheduleSpec(command.cron_expression, command.timezone)
        trigger = reschedule(replace(trigger, schedule=spec), now)
    elif isinstance(command, CreateWebhookTrigger):
        secret = WebhookSpec(new_public_id(), new_secret(), command.signing_mode, command.replay_window_sec, stamp)
        trigger = replace(trigger, webhook=secret)
    retrying(lambda: _put(trigger, principal, now, new_id))
    return TriggerWithSecret(trigger, _material(trigger, base_url))


def _put(trigger: Trigger, principal: Principal, now: datetime, new_id: IdFactory) -> None:
    owner = _routine_of(trigger)
    triggers = with_trigger(current_triggers(owner), trigger)
    revision = next_revision(owner, triggers, created_trigger(trigger.kind), principal, now, new_id)
    routines.put_trigger(trigger, owner.status, revision)


def reschedule(trigger: Trigger, now: datetime) -> Trigger:
    """Validates a schedule trigger's cron and time zone and sets `nextRunAt` to its first fire after now."""
    if trigger.schedule is None:
        return trigger
    schedule = parse_schedule(trigger.schedule.cron_expression, trigger.schedule.timezone)
    next_run_at = iso_or_none(next_fire_after(schedule, now)) if trigger.enabled else None
    return replace(trigger, schedule=ScheduleSpec(schedule.expression, schedule.timezone, next_run_at))


def _routine_of(trigger: Trigger) -> Routine:
    routine = routines.get_routine(trigger.routine_id)
    if routine is None:
        raise NotFound("Routine not found")
    return routine


def update_trigger(
    principal: Principal, trigger_id: str, command: UpdateTrigger, now: datetime, new_id: IdFactory
) -> Trigger:
    """Changes a trigger, recording a revision even when nothing changed; a schedule's `nextRunAt` is
    recomputed from now (re-enabling never catches up)."""
    return retrying(lambda: _update_trigger(principal, trigger_id, command, now, new_id))


def _update_trigger(
    principal: Principal, trigger_id: str, command: UpdateTrigger, now: datetime, new_id: IdFactory
) -> Trigger:
    trigger, routine = load_trigger(trigger_id)
    require_manage(principal, routine)
    _check_fields_fit(trigger.kind, command)
    changed = replace(trigger, **command.changes(trigger), updated_at=to_iso(now))
    if changed.schedule:
        changed = replace(changed, schedule=replace(changed.schedule, **command.changes(changed.schedule)))
    if changed.webhook:
        # A null signingMode or replayWindowSec leaves it as it is.
        kept = {name: value for name, value in command.changes(changed.webhook).items() if value is not None}
        changed = replace(changed, webhook=replace(changed.webhook, **kept))
    if changed.schedule and changed.enabled:
        check_schedulable(routine.variables)
    changed = reschedule(changed, now)
    _save(changed, routine, updated_trigger(changed.kind), principal, now, new_id)
    return changed


def _check_fields_fit(kind: TriggerKind, command: UpdateTrigger) -> None:
    if kind != TriggerKind.schedule and any(command.sent(name) for name in _SCHEDULE_FIELDS):
        raise Invalid("Only schedule triggers have cronExpression and timezone")
    if kind != TriggerKind.webhook and any(command.sent(name) for name in _WEBHOOK_FIELDS):
        raise Invalid("Only webhook triggers have signingMode and replayWindowSec")
    if kind == TriggerKind.schedule and command.sent("cron_expression") and not command.cron_expression:
        raise Invalid("Scheduled triggers require cronExpression")
    if kind == TriggerKind.schedule and command.sent("timezone") and not command.timezone:
        raise Invalid("Scheduled triggers require timezone")


def _save(
    trigger: Trigger, routine: Routine, summary: str, principal: Principal, now: datetime, new_id: IdFactory
) -> None:
    revision = next_revision(routine, with_trigger(current_triggers(routine), trigger), summary, principal, now, new_id)
    try:
        routines.save_trigger(trigger, routine.status, revision)
    except routines.TriggerGone as exc:
        raise NotFound("Routine trigger not found") from exc


def delete_trigger(principal: Principal, trigger_id: str, now: datetime, new_id: IdFactory) -> None:
    """Deletes a trigger (a webhook's URL stops working at once), recording a revision."""
    retrying(lambda: _delete_trigger(principal, trigger_id, now, new_id))


def _delete_trigger(principal: Principal, trigger_id: str, now: datetime, new_id: IdFactory) -> None:
    trigger, routine = load_trigger(trigger_id)
    require_manage(principal, routine)
    remaining = [other for other in current_triggers(routine) if other.id != trigger.id]
    revision = next_revision(routine, remaining, deleted_trigger(trigger.kind), principal, now, new_id)
    routines.delete_trigger(trigger, revision)


def rotate_secret(
    principal: Principal, trigger_id: str, base_url: str, now: datetime, new_id: IdFactory
) -> TriggerWithSecret:
    """Replaces a webhook's secret at once; its URL stays the same. Recorded as a revision."""
    return retrying(lambda: _rotate_secret(principal, trigger_id, base_url, now, new_id))


def _rotate_secret(
    principal: Principal, trigger_id: str, base_url: str, now: datetime, new_id: IdFactory
) -> TriggerWithSecret:
    trigger, routine = load_trigger(trigger_id)
    require_manage(principal, routine)
    if trigger.webhook is None:
        raise Invalid("Only webhook triggers can rotate secrets")
    stamp = to_iso(now)
    webhook = replace(trigger.webhook, secret=new_secret(), last_rotated_at=stamp)
    rotated = replace(trigger, webhook=webhook, updated_at=stamp)
    _save(rotated, routine, ROTATED, principal, now, new_id)
    return TriggerWithSecret(rotated, _material(rotated, base_url))


def _material(trigger: Trigger, base_url: str) -> SecretMaterial | None:
    if trigger.webhook is None:
        return None
    return SecretMaterial(webhook_url(base_url, trigger.webhook.public_id), trigger.webhook.secret)


def schedule_of(trigger: Trigger) -> Schedule:
    """A schedule trigger's parsed expression; other kinds have none (422)."""
    if trigger.schedule is None:
        raise Invalid("Only schedule triggers have fire times")
    return parse_schedule(trigger.schedule.cron_expression, trigger.schedule.timezone)


def preview_trigger(principal: Principal, trigger_id: str, count: int, now: datetime) -> list[FireTime]:
    """A schedule trigger's next fire times as the tick fires them, the first its stored nextRunAt."""
    trigger, routine = load_trigger(trigger_id)
    require_company(principal, routine.company_id)
    schedule = schedule_of(trigger)
    next_run_at = trigger.schedule.next_run_at if trigger.schedule else None
    return preview(schedule, from_iso(next_run_at) - _JUST_BEFORE if next_run_at else now, count)


def preview_schedule(command: PreviewSchedule, now: datetime) -> list[FireTime]:
    """An expression's next fire times before it is saved (422 when it or its zone is invalid)."""
    schedule = parse_schedule(command.cron_expression, command.timezone)
    return preview(schedule, command.after or now, command.count)
