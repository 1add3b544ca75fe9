"""The pure wake rules: which change wakes, the wake id, the signed body, and the address guard's decision."""

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from chalicelib.domain.models import ROUTINE_EXECUTION, Issue, IssueStatus, Priority
from chalicelib.domain.wakes import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WAKE_ID_HEADER,
    Target,
    TargetRefused,
    approve_addresses,
    parse_target,
    response_error,
    sign,
    wake_body,
    wake_cause,
    wake_headers,
    wake_id,
)

ALPHA = "01900000-0000-7000-8000-00000000000a"
BRAVO = "01900000-0000-7000-8000-00000000000b"
ISSUE = Issue(
    id="01900000-0000-7000-8000-000000000001",
    company_id="01900000-0000-7000-8000-000000000002",
    identifier="ACM-1",
    title="Daily digest",
    description=None,
    status=IssueStatus.todo,
    priority=Priority.medium,
    assignee_agent_id=ALPHA,
    project_id=None,
    goal_id=None,
    parent_id=None,
    created_at="2026-12-01T09:00:00.000Z",
    updated_at="2026-12-01T09:00:00.000Z",
    origin_kind=ROUTINE_EXECUTION,
)
HOST = Target("http", "agent.example", 80, "/wake")
PUBLIC = "93.184.216.34"


def test_a_created_execution_issue_wakes_its_agent_from_the_dispatch() -> None:
    cause = wake_cause(None, ISSUE)
    assert cause is not None
    assert (cause.reason, cause.source, cause.mutation) == ("issue_assigned", "routine.dispatch", "create")


def test_a_created_plain_issue_wakes_from_issue_create() -> None:
    cause = wake_cause(None, replace(ISSUE, origin_kind=None))
    assert cause is not None and cause.source == "issue.create"


def test_assigning_an_issue_to_another_agent_wakes_the_new_one() -> None:
    after = replace(ISSUE, assignee_agent_id=BRAVO, updated_at="2026-12-01T09:05:00.000Z")
    cause = wake_cause(ISSUE, after)
    assert cause is not None and (cause.source, cause.mutation) == ("issue.update", "update")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (ISSUE, replace(ISSUE, status=IssueStatus.in_progress)),
        (None, replace(ISSUE, status=IssueStatus.backlog)),
        (None, replace(ISSUE, assignee_agent_id=None)),
        (ISSUE, replace(ISSUE, assignee_agent_id=None)),
        (ISSUE, replace(ISSUE, assignee_agent_id=BRAVO, status=IssueStatus.done)),
    ],
    ids=["status change", "created in backlog", "created unassigned", "unassigned", "assigned while closed"],
)
def test_other_changes_wake_nobody(before: Issue | None, after: Issue) -> None:
    assert wake_cause(before, after) is None


def test_the_wake_id_is_stable_for_one_change_and_new_for_the_next() -> None:
    assert wake_id(ISSUE) == wake_id(replace(ISSUE))
    assert wake_id(ISSUE) != wake_id(replace(ISSUE, assignee_agent_id=BRAVO))
    assert wake_id(ISSUE) != wake_id(replace(ISSUE, updated_at="2026-12-01T09:05:00.000Z"))


def test_the_body_is_the_template_under_agent_run_and_context() -> None:
    body = wake_body({"kind": "routine", "agentId": "spoofed"}, ALPHA, "run-1", {"issueId": ISSUE.id})
    assert json.loads(body) == {"kind": "routine", "agentId": ALPHA, "runId": "run-1", "context": {"issueId": ISSUE.id}}


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"agentId":"a"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, body) == f"sha256={expected}"


def test_configured_headers_cannot_replace_the_signing_headers() -> None:
    forged = {"x-routines-signature": "sha256=0", "X-Routines-Wake-Id": "mine", "Authorization": "Bearer t"}
    headers = wake_headers(forged, "wake-1", 1700000000, "sha256=abc")
    assert headers[SIGNATURE_HEADER] == "sha256=abc"
    assert headers[WAKE_ID_HEADER] == "wake-1"
    assert headers[TIMESTAMP_HEADER] == "1700000000"
    assert headers["Authorization"] == "Bearer t"
    assert not {"x-routines-signature"} & set(headers)


@pytest.mark.parametrize(
    "url", ["ftp://agent.example/", "file:///etc/passwd", "http://user:pw@agent.example/", "http:///x", "nope"]
)
def test_only_http_urls_without_credentials_are_targets(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url)


def test_a_target_keeps_its_host_port_and_path() -> None:
    assert parse_target("https://Agent.Example:8443/hooks/wake?x=1") == Target(
        "https", "agent.example", 8443, "/hooks/wake?x=1"
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:7f00:1",
        "169.254.169.254",
        "fe80::1",
        "fd00:ec2::254",
    ],
)
def test_private_loopback_reserved_and_metadata_addresses_are_refused(address: str) -> None:
    with pytest.raises(TargetRefused):
        approve_addresses(HOST, [address], frozenset())


def test_one_blocked_record_refuses_a_name_that_also_resolves_publicly() -> None:
    with pytest.raises(TargetRefused):
        approve_addresses(HOST, [PUBLIC, "10.0.0.5"], frozenset())


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(TargetRefused, match="did not resolve"):
        approve_addresses(HOST, [], frozenset())


def test_public_addresses_are_approved() -> None:
    assert approve_addresses(HOST, [PUBLIC, PUBLIC, "2606:2800:220:1::1"], frozenset()) == [
        PUBLIC,
        "2606:2800:220:1::1",
    ]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3"])
def test_an_allow_listed_host_may_be_private(address: str) -> None:
    local = Target("http", "127.0.0.1", 9000, "/")
    assert approve_addresses(local, [address], frozenset({"127.0.0.1"})) == [address]


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254"])
def test_no_allow_list_opens_link_local_or_metadata_addresses(address: str) -> None:
    metadata = Target("http", "metadata.internal", 80, "/")
    with pytest.raises(TargetRefused, match="link-local"):
        approve_addresses(metadata, [address], frozenset({"metadata.internal"}))


@pytest.mark.parametrize(("status", "error"), [(200, None), (204, None), (302, "redirects"), (503, "HTTP 503")])
def test_only_a_2xx_answer_is_a_delivery(status: int, error: str | None) -> None:
    found = response_error(status)
    assert found is None if error is None else error in (found or "")
