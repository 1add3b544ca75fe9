"""Triggers: schedule (cron), webhook (public URL and secret) and api."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.cron import next_fire_after, parse_schedule
from chalicelib.domain.errors import Invalid, NotFound
from chalicelib.domain.ids import IdFactory, is_id
from chalicelib.domain.models import Principal, Routine, Trigger, TriggerKind
from chalicelib.domain.signing import SigningMode, new_public_id, new_secret
from chalicelib.domain.timefmt import iso_or_none, to_iso
from chalicelib.services.auth import require_manage
from chalicelib.store import routines

DEFAULT_REPLAY_WINDOW_SEC = 300
_SCHEDULE_FIELDS = ("cron_expression", "timezone")
_WEBHOOK_FIELDS = ("signing_mode", "replay_window_sec")


@dataclass(frozen=True)
class SecretMaterial:
    webhook_url: str
    webhook_secret: str


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
    fields: dict[str, Any],
    base_url: str,
    now: datetime,
    new_id: IdFactory,
) -> tuple[Trigger, SecretMaterial | None]:
    """Adds a trigger; a webhook's secret is returned here and never again."""
    require_manage(principal, routine)
    stamp = to_iso(now)
    kind = TriggerKind(fields["kind"])
    trigger = Trigger(
        id=new_id(),
        routine_id=routine.id,
        company_id=routine.company_id,
        kind=kind,
        label=fields.get("label"),
        enabled=fields.get("enabled", True),
        created_at=stamp,
        updated_at=stamp,
    )
    if kind == TriggerKind.schedule:
        trigger = replace(
            trigger,
            cron_expression=fields["cron_expression"],
            timezone=fields.get("timezone"),
        )
        trigger = reschedule(trigger, now)
    elif kind == TriggerKind.webhook:
        trigger = replace(
            trigger,
            public_id=new_public_id(),
            secret=new_secret(),
            last_rotated_at=stamp,
            signing_mode=fields.get("signing_mode") or SigningMode.bearer,
            replay_window_sec=fields.get("replay_window_sec") or DEFAULT_REPLAY_WINDOW_SEC,
        )
    routines.put_trigger(trigger, routine.status)
    return trigger, _material(trigger, base_url)


def reschedule(trigger: Trigger, now: datetime) -> Trigger:
    """Validates a schedule trigger's cron and time zone and sets `nextRunAt` to its first fire after now."""
    if trigger.kind != TriggerKind.schedule:
        return trigger
    schedule = parse_schedule(trigger.cron_expression or "", trigger.timezone or "UTC")
    return replace(
        trigger,
        cron_expression=schedule.expression,
        timezone=schedule.timezone,
        next_run_at=iso_or_none(next_fire_after(schedule, now)) if trigger.enabled else None,
    )


def update_trigger(principal: Principal, trigger_id: str, fields: dict[str, Any], now: datetime) -> Trigger:
    """Changes a trigger; a schedule's `nextRunAt` is recomputed from now (re-enabling never catches up)."""
    trigger, routine = load_trigger(trigger_id)
    require_manage(principal, routine)
    _check_fields_fit(trigger.kind, fields)
    changed = reschedule(replace(trigger, **fields, updated_at=to_iso(now)), now)
    _save(changed, routine)
    return changed


def _check_fields_fit(kind: TriggerKind, fields: dict[str, Any]) -> None:
    if kind != TriggerKind.schedule and any(name in fields for name in _SCHEDULE_FIELDS):
        raise Invalid("Only schedule triggers have cronExpression and timezone")
    if kind != TriggerKind.webhook and any(name in fields for name in _WEBHOOK_FIELDS):
        raise Invalid("Only webhook triggers have signingMode and replayWindowSec")
    if kind == TriggerKind.schedule and "cron_expression" in fields and not fields["cron_expression"]:
        raise Invalid("Scheduled triggers require cronExpression")
    if kind == TriggerKind.schedule and "timezone" in fields and not fields["timezone"]:
        raise Invalid("Scheduled triggers require timezone")
    for name in _WEBHOOK_FIELDS:
        if name in fields and fields[name] is None:
            fields.pop(name)


def _save(trigger: Trigger, routine: Routine) -> None:
    try:
        routines.save_trigger(trigger, routine.status)
    except routines.TriggerGone as exc:
        raise NotFound("Routine trigger not found") from exc


def delete_trigger(principal: Principal, trigger_id: str) -> None:
    trigger, routine = load_trigger(trigger_id)
    require_manage(principal, routine)
    routines.delete_trigger(trigger)


def rotate_secret(
    principal: Principal, trigger_id: str, base_url: str, now: datetime
) -> tuple[Trigger, SecretMaterial]:
    """Replaces a webhook's secret at once; its URL stays the same."""
    trigger, routine = load_trigger(trigger_id)
    require_manage(principal, routine)
    if trigger.kind != TriggerKind.webhook:
        raise Invalid("Only webhook triggers can rotate secrets")
    stamp = to_iso(now)
    rotated = replace(trigger, secret=new_secret(), last_rotated_at=stamp, updated_at=stamp)
    _save(rotated, routine)
    material = _material(rotated, base_url)
    assert material
    return rotated, material


def _material(trigger: Trigger, base_url: str) -> SecretMaterial | None:
    if trigger.kind != TriggerKind.webhook or not trigger.public_id or not trigger.secret:
        return None
    return SecretMaterial(webhook_url(base_url, trigger.public_id), trigger.secret)
