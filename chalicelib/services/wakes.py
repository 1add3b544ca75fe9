"""Wake-ups: the issues table's stream in, one signed POST per created or assigned issue out, at least once.

The dispatch transaction is the event: nothing after its commit has to run for the wake to happen. A failed
delivery raises `WakeFailed`, so the stream's reader (Lambda, or `routines dev`) hands the record over again;
the wake id stays the same, and a wake already delivered is not sent twice by us.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.models import Agent, Issue, Wake
from chalicelib.domain.timefmt import from_iso, to_iso
from chalicelib.domain.wakes import (
    DEFAULT_TIMEOUT_MS,
    HTTP_ADAPTER,
    TargetRefused,
    WakeCause,
    WakeStatus,
    approve_addresses,
    parse_target,
    response_error,
    sign,
    wake_body,
    wake_cause,
    wake_context,
    wake_headers,
    wake_id,
)
from chalicelib.observability import Metric, log, metrics
from chalicelib.services import pinned_http
from chalicelib.store import runs, wakes

Image = dict[str, Any]
Resolver = Callable[[str, int], list[str]]
Sender = Callable[..., int]


@dataclass(frozen=True)
class Change:
    """One record of the issues table's stream: the item before and after, as DynamoDB JSON."""

    old_image: Image | None
    new_image: Image | None


@dataclass(frozen=True)
class Delivery:
    """Where wakes may go: the allow-listed private hosts; the resolver and sender are the network's."""

    allow_hosts: frozenset[str] = frozenset()
    resolve: Resolver = pinned_http.resolve
    send: Sender = pinned_http.post


class WakeFailed(Exception):
    """A wake was not delivered and is worth retrying: its stream record must be handed over again."""


@dataclass(frozen=True)
class _Attempt:
    """How one delivery attempt went."""

    status: WakeStatus
    response_status: int | None = None
    error: str | None = None


def wake_all(changes: Iterable[Change], now: Callable[[], datetime], delivery: Delivery) -> list[Wake]:
    """Wakes for a batch of stream records, in order; the first that must be retried stops the batch."""
    return [wake for change in changes if (wake := wake_for(change, now(), delivery))]


def wake_for(change: Change, now: datetime, delivery: Delivery) -> Wake | None:
    """The wake a change calls for, attempted once (None when it calls for none, or its agent is not `http`)."""
    after = wakes.issue_of_image(change.new_image)
    cause = wake_cause(wakes.issue_of_image(change.old_image), after) if after else None
    if after is None or cause is None or after.assignee_agent_id is None:
        return None
    found = wakes.wake_target(after.company_id, after.assignee_agent_id)
    if found is None or found[0].adapter_type != HTTP_ADAPTER:
        return None
    agent, secret = found
    earlier = wakes.get_wake(after.id, wake_id(after))
    if earlier and earlier.status != WakeStatus.failed:
        return earlier  # a redelivered record: delivered (or refused) already
    attempt = _attempt(agent, secret, after, cause, now, delivery)
    return _record(after, agent, cause, attempt, now)


def _attempt(
    agent: Agent, secret: str | None, issue: Issue, cause: WakeCause, now: datetime, delivery: Delivery
) -> _Attempt:
    config = agent.adapter_config or {}
    if not secret:
        return _Attempt(WakeStatus.refused, error="The agent has no wake secret: rotate one")
    try:
        target = parse_target(str(config.get("url", "")))
        addresses = approve_addresses(target, delivery.resolve(target.host, target.port), delivery.allow_hosts)
    except TargetRefused as exc:
        return _Attempt(WakeStatus.refused, error=str(exc))
    body, headers = _request(agent, secret, issue, cause, now)
    timeout = int(config.get("timeoutMs") or DEFAULT_TIMEOUT_MS) / 1000
    try:
        status = delivery.send(target, addresses[0], body, headers, timeout)
    except OSError as exc:
        return _Attempt(WakeStatus.failed, error=f"{type(exc).__name__}: {exc}"[:500])
    error = response_error(status)
    return _Attempt(WakeStatus.failed if error else WakeStatus.delivered, status, error)


def _request(agent: Agent, secret: str, issue: Issue, cause: WakeCause, now: datetime) -> tuple[bytes, dict[str, str]]:
    config = agent.adapter_config or {}
    wake = wake_id(issue)
    run = runs.get_run(issue.origin_id, issue.origin_run_id) if issue.origin_id and issue.origin_run_id else None
    context = wake_context(issue, cause, run, wake)
    body = wake_body(config.get("payloadTemplate") or {}, agent.id, run.id if run else wake, context)
    timestamp = int(now.timestamp())
    return body, wake_headers(config.get("headers") or {}, wake, timestamp, sign(secret, timestamp, body))


def _record(issue: Issue, agent: Agent, cause: WakeCause, attempt: _Attempt, now: datetime) -> Wake:
    stamp = to_iso(now)
    delivered = attempt.status == WakeStatus.delivered
    wake = wakes.record_attempt(
        Wake(
            wake_id(issue),
            issue.id,
            agent.id,
            str(cause.reason),
            str(attempt.status),
            attempts=1,
            created_at=stamp,
            updated_at=stamp,
            last_error=attempt.error,
            response_status=attempt.response_status,
            delivered_at=stamp if delivered else None,
        )
    )
    lag = (now - from_iso(issue.updated_at)).total_seconds()
    log(
        "wake",
        wakeId=wake.id,
        issueId=issue.id,
        agentId=agent.id,
        status=wake.status,
        attempts=wake.attempts,
        responseStatus=attempt.response_status,
        error=attempt.error,
    )
    metrics({Metric.WAKES_DELIVERED: 1, Metric.WAKE_LAG_SECONDS: lag} if delivered else {Metric.WAKES_FAILED: 1})
    if attempt.status == WakeStatus.failed:
        raise WakeFailed(f"wake {wake.id} of issue {issue.id}: {attempt.error}")
    return wake
