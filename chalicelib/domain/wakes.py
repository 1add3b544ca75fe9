"""Wake-ups: which issue change wakes its agent, the signed request that does it, and where it may go.

Pure: the stream handler (`services.wakes`) reads the images and the network; these functions decide.
"""

import hashlib
import hmac
import ipaddress
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.models import ROUTINE_EXECUTION, Issue, IssueStatus, Run

HTTP_ADAPTER = "http"
DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 30_000
TIMESTAMP_HEADER = "X-Routines-Timestamp"
SIGNATURE_HEADER = "X-Routines-Signature"
WAKE_ID_HEADER = "X-Routines-Wake-Id"
SIGNATURE_PREFIX = "sha256="
USER_AGENT = "Routines-Wake/1.0"
# Wake ids are UUIDv5 names in this namespace: the same change always has the same id.
_WAKE_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4c39-9a51-0d2f5e8b7c41")
# Never allowed, whatever the allow list says: instance metadata lives here.
_ALWAYS_BLOCKED = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


class WakeReason(StrEnum):
    issue_assigned = "issue_assigned"


class WakeStatus(StrEnum):
    delivered = "delivered"
    failed = "failed"  # retried: the receiver was down, slow or said no
    refused = "refused"  # not retried: the target is not allowed, or the agent cannot be signed for


@dataclass(frozen=True)
class WakeCause:
    """Why an issue change wakes its assignee, in the reference's words."""

    reason: WakeReason
    source: str
    mutation: str


def wake_cause(before: Issue | None, after: Issue) -> WakeCause | None:
    """A created issue, or one assigned to another agent, wakes its (new) assignee unless it is in backlog."""
    if after.assignee_agent_id is None or after.status == IssueStatus.backlog or not after.status.is_open:
        return None
    if before is None:
        source = "routine.dispatch" if after.origin_kind == ROUTINE_EXECUTION else "issue.create"
        return WakeCause(WakeReason.issue_assigned, source, "create")
    if before.assignee_agent_id != after.assignee_agent_id:
        return WakeCause(WakeReason.issue_assigned, "issue.update", "update")
    return None


def wake_id(after: Issue) -> str:
    """Stable across every retry and redelivery of the same change: the issue, its assignee and its stamp."""
    return str(uuid.uuid5(_WAKE_NAMESPACE, f"{after.id}:{after.assignee_agent_id}:{after.updated_at}"))


def wake_context(issue: Issue, cause: WakeCause, run: Run | None, wake: str) -> dict[str, Any]:
    """The context snapshot an HTTP agent receives, with the routine, run and trigger of an execution issue."""
    context: dict[str, Any] = {
        "issueId": issue.id,
        "taskId": issue.id,
        "taskKey": issue.id,
        "wakeReason": str(cause.reason),
        "wakeSource": "assignment",
        "wakeTriggerDetail": "system",
        "source": cause.source,
        "mutation": cause.mutation,
        "projectId": issue.project_id,
        "wakeId": wake,
    }
    if run is not None:
        context.update(
            routineId=run.routine_id,
            runId=run.id,
            triggerId=run.trigger_id,
            scheduledFor=run.scheduled_for,
            payload=run.trigger_payload,
        )
    return context


def wake_body(template: Mapping[str, Any], agent_id: str, run_id: str, context: Mapping[str, Any]) -> bytes:
    """Paperclip's HTTP adapter body: the template's keys, then `agentId`, `runId` and `context` over them."""
    body = {**template, "agentId": agent_id, "runId": run_id, "context": dict(context)}
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over `"<timestamp>." + body`, as the webhooks are signed."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def wake_headers(configured: Mapping[str, str], wake: str, timestamp: int, signature: str) -> dict[str, str]:
    """The configured headers over JSON defaults; the signing headers over both (they cannot be forged)."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **configured}
    signed = {WAKE_ID_HEADER: wake, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature}
    kept = {name: value for name, value in headers.items() if name.lower() not in {n.lower() for n in signed}}
    return {**kept, **signed}


class TargetRefused(Exception):
    """The wake URL may not be called: its scheme, or an address it resolves to."""


@dataclass(frozen=True)
class Target:
    """Where a wake goes, parsed: the host as written (for Host and TLS), its port and the request path."""

    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str) -> Target:
    """An http(s) URL without credentials, or TargetRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise TargetRefused("The wake URL must be http(s) with a host and no credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("The wake URL has an invalid port") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname.lower(), port, path)


def approve_addresses(target: Target, addresses: Iterable[str], allow_hosts: frozenset[str]) -> list[str]:
    """The resolved addresses, if every one is public (or the host is allow-listed and none is link-local).

    One blocked record refuses them all: a name that answers both ways could rebind between checks.
    """
    found = list(dict.fromkeys(addresses))
    if not found:
        raise TargetRefused(f"{target.host} did not resolve")
    for text in found:
        address = _address(text)
        if any(address in network for network in _ALWAYS_BLOCKED):
            raise TargetRefused(f"{target.host} resolves to a link-local or metadata address")
        if not _public(address) and target.host not in allow_hosts:
            raise TargetRefused(f"{target.host} resolves to a private or reserved address")
    return found


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError as exc:
        raise TargetRefused("The wake URL resolved to something that is not an address") from exc
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def response_error(status: int) -> str | None:
    """None for a 2xx; anything else fails the attempt. Redirects are never followed: a 3xx could point
    anywhere, at a metadata address too."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"
