"""Wake-ups end to end: a firing's issue reaches a receiver on 127.0.0.1, signed, through the issues stream.

The reader is the one `routines dev` runs (DynamoDB Local's stream, a checkpoint file, backoff); the tests
drive it until the receiver has what they expect. Nothing here connects anywhere but 127.0.0.1.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.wakes import SIGNATURE_HEADER, TIMESTAMP_HEADER, WAKE_ID_HEADER, Target
from chalicelib.services.wakes import Change, Delivery, WakeFailed, wake_for
from routines.local.dynamodb import free_port
from routines.local.streams import StreamReader, issues_stream_arn, streams_client
from tests.scheduler.conftest import dispatch_one
from tests.support import World, json_of

LOCAL = Delivery(frozenset({"127.0.0.1"}))
FAST = (0.01, 0.02, 0.05)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A tiny agent endpoint on 127.0.0.1: records every POST, answers `status` (and `location`)."""

    port: int = field(default_factory=free_port)
    status: int = 200
    location: str | None = None
    got: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wake"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(Received(dict(self.headers.items()), body))
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def for_issue(self, issue_id: str) -> list[Received]:
        return [got for got in self.got if got.json["context"]["issueId"] == issue_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@dataclass
class HttpAgent:
    id: str
    secret: str
    body: dict[str, Any]


def http_agent(world: World, url: str, **config: Any) -> HttpAgent:
    adapter = {"url": url, "headers": {"Authorization": "Bearer agent-token"}, "payloadTemplate": {"kind": "wake"}}
    body = {"name": "Hooky", "adapterType": "http", "adapterConfig": {**adapter, **config}}
    created = json_of(world.board.post(f"/companies/{world.company_id}/agents", body), 201)
    return HttpAgent(created["id"], created["wakeSecret"], created)


def reader(checkpoint: Path, handle: Callable[[Change], object] | None = None) -> StreamReader:
    def wake(change: Change) -> object:
        return wake_for(change, runtime.now(), LOCAL)

    return StreamReader(streams_client(runtime.settings()), issues_stream_arn(), checkpoint, handle or wake, FAST)


def read_until(stream: StreamReader, done: Callable[[], bool], polls: int = 50) -> None:
    stop = threading.Event()
    for _ in range(polls):
        stream.poll(stop)
        if done():
            return
    raise AssertionError("the stream never produced the expected wake")


def run_routine(world: World, agent_id: str, payload: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    routine = world.routine(assigneeAgentId=agent_id)
    run = json_of(world.board.post(f"/routines/{routine['id']}/run", {"payload": payload or {}}), 202)
    return run, run["linkedIssueId"]


def verified(secret: str, got: Received) -> bool:
    message = got.headers[TIMESTAMP_HEADER].encode() + b"." + got.body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, got.headers[SIGNATURE_HEADER])


def wakes_of(world: World, issue_id: str) -> list[dict[str, Any]]:
    return list(json_of(world.board.get(f"/issues/{issue_id}/wakes")))


def test_a_manual_run_wakes_its_http_agent_with_one_signed_request(
    world: World, receiver: Receiver, tmp_path: Path
) -> None:
    agent = http_agent(world, receiver.url)
    run, issue_id = run_routine(world, agent.id, {"ticket": 42})
    read_until(reader(tmp_path / "cp.json"), lambda: bool(receiver.for_issue(issue_id)))
    [got] = receiver.for_issue(issue_id)
    assert verified(agent.secret, got)
    assert got.headers["Authorization"] == "Bearer agent-token"
    body = got.json
    assert (body["kind"], body["agentId"], body["runId"]) == ("wake", agent.id, run["id"])
    context = body["context"]
    assert context["issueId"] == context["taskId"] == issue_id
    assert (context["wakeReason"], context["source"]) == ("issue_assigned", "routine.dispatch")
    assert (context["routineId"], context["runId"], context["payload"]) == (run["routineId"], run["id"], {"ticket": 42})
    assert "scheduledFor" in context and "triggerId" in context
    assert context["wakeId"] == got.headers[WAKE_ID_HEADER]
    [wake] = wakes_of(world, issue_id)
    assert (wake["id"], wake["status"], wake["attempts"], wake["agentId"]) == (
        got.headers[WAKE_ID_HEADER],
        "delivered",
        1,
        agent.id,
    )


def test_a_webhook_and_a_scheduled_firing_wake_the_agent_too(world: World, receiver: Receiver, tmp_path: Path) -> None:
    agent = http_agent(world, receiver.url)
    hooked = world.routine(assigneeAgentId=agent.id)
    material = world.trigger(hooked["id"], kind="webhook", signingMode="bearer")["secretMaterial"]
    delivery = world.anonymous.post(
        material["webhookUrl"].removeprefix(world.base),
        {"event": "deploy"},
        headers={"Authorization": f"Bearer {material['webhookSecret']}"},
    )
    webhook_issue = json_of(delivery, 202)["linkedIssueId"]
    scheduled = world.routine(assigneeAgentId=agent.id)
    trigger = world.trigger(scheduled["id"], kind="schedule", cronExpression="* * * * *", timezone="UTC")["trigger"]
    outcome = dispatch_one(trigger["id"], runtime.now() + timedelta(minutes=2))
    assert outcome.errors == 0
    runs = json_of(world.board.get(f"/routines/{scheduled['id']}/runs"))
    [scheduled_run] = [run for run in runs if run["status"] == "issue_created"]
    issues = {webhook_issue: "webhook", scheduled_run["linkedIssueId"]: "schedule"}
    read_until(reader(tmp_path / "cp.json"), lambda: all(receiver.for_issue(issue) for issue in issues))
    for issue_id, trigger_kind in issues.items():
        [got] = receiver.for_issue(issue_id)
        assert verified(agent.secret, got), trigger_kind
    [webhooked] = receiver.for_issue(webhook_issue)
    assert webhooked.json["context"]["payload"] == {"event": "deploy"}
    [ticked] = receiver.for_issue(scheduled_run["linkedIssueId"])
    assert ticked.json["context"]["scheduledFor"] == scheduled_run["scheduledFor"]
    assert ticked.json["context"]["triggerId"] == trigger["id"]


def test_assigning_an_issue_to_an_http_agent_wakes_it(world: World, receiver: Receiver, tmp_path: Path) -> None:
    agent = http_agent(world, receiver.url)
    _, issue_id = run_routine(world, world.alpha_id)
    json_of(world.board.patch(f"/issues/{issue_id}", {"assigneeAgentId": agent.id}))
    read_until(reader(tmp_path / "cp.json"), lambda: bool(receiver.for_issue(issue_id)))
    [got] = receiver.for_issue(issue_id)
    assert (got.json["context"]["source"], got.json["context"]["mutation"]) == ("issue.update", "update")
    assert verified(agent.secret, got)


def test_agents_without_an_http_adapter_are_not_woken(world: World, receiver: Receiver, tmp_path: Path) -> None:
    other = json_of(
        world.board.post(
            f"/companies/{world.company_id}/agents",
            {"name": "Local", "adapterType": "process", "adapterConfig": {"url": receiver.url}},
        ),
        201,
    )
    assert "wakeSecret" not in other
    marker = http_agent(world, receiver.url)
    _, quiet = run_routine(world, other["id"])
    _, loud = run_routine(world, marker.id)
    read_until(reader(tmp_path / "cp.json"), lambda: bool(receiver.for_issue(loud)))
    assert receiver.for_issue(quiet) == []
    assert wakes_of(world, quiet) == []


def test_a_receiver_down_gets_the_same_wake_after_it_comes_back(world: World, tmp_path: Path) -> None:
    down = Receiver()  # its port is chosen, nothing listens yet
    agent = http_agent(world, down.url)
    _, issue_id = run_routine(world, agent.id)
    stop = threading.Event()
    thread = threading.Thread(target=reader(tmp_path / "cp.json").run, args=(stop, 0.01), daemon=True)
    thread.start()
    try:
        _wait_for(lambda: any(w["attempts"] >= 2 for w in wakes_of(world, issue_id)))
        [failing] = wakes_of(world, issue_id)
        assert failing["status"] == "failed" and "Connection" in failing["lastError"]
        down.start()
        _wait_for(lambda: wakes_of(world, issue_id)[0]["status"] == "delivered")
    finally:
        stop.set()
        thread.join()
        down.stop()
    [got] = down.for_issue(issue_id)
    [wake] = wakes_of(world, issue_id)
    assert got.headers[WAKE_ID_HEADER] == wake["id"] == failing["id"]
    assert wake["attempts"] > failing["attempts"] >= 2
    assert verified(agent.secret, got)


def _wait_for(condition: Callable[[], bool]) -> None:
    ended = threading.Event()
    for _ in range(3000):
        if condition():
            return
        ended.wait(0.01)
    raise AssertionError("condition never held")


class Killed(BaseException):
    """`kill -9` of the reader: nothing after it runs, no checkpoint is written."""


def test_a_reader_killed_between_commit_and_delivery_delivers_after_restart(
    world: World, receiver: Receiver, tmp_path: Path
) -> None:
    agent = http_agent(world, receiver.url)
    _, issue_id = run_routine(world, agent.id)
    checkpoint = tmp_path / "cp.json"

    def die_before_our_wake(change: Change) -> object:
        if change.new_image and change.new_image["id"]["S"] == issue_id:
            raise Killed()
        return wake_for(change, runtime.now(), LOCAL)

    with pytest.raises(Killed):
        read_until(reader(checkpoint, die_before_our_wake), lambda: False)
    assert receiver.for_issue(issue_id) == []
    assert wakes_of(world, issue_id) == []
    restarted = reader(checkpoint)
    read_until(restarted, lambda: bool(receiver.for_issue(issue_id)))
    for _ in range(3):
        restarted.poll(threading.Event())
    [got] = receiver.for_issue(issue_id)
    assert got.headers[WAKE_ID_HEADER] == wakes_of(world, issue_id)[0]["id"]


def test_a_record_read_twice_is_not_delivered_twice(world: World, receiver: Receiver, tmp_path: Path) -> None:
    agent = http_agent(world, receiver.url)
    _, issue_id = run_routine(world, agent.id)
    read_until(reader(tmp_path / "first.json"), lambda: bool(receiver.for_issue(issue_id)))
    read_until(reader(tmp_path / "second.json"), lambda: True)  # a fresh reader starts from the oldest record
    assert len(receiver.for_issue(issue_id)) == 1
    assert wakes_of(world, issue_id)[0]["attempts"] == 1


def _change_of(issue_id: str) -> Change:
    from chalicelib.store.tables import IssueItem

    return Change(None, IssueItem.get(issue_id).serialize())


def _never_connect(*args: Any) -> int:
    raise AssertionError("a blocked target must be refused before any connection")


@pytest.mark.parametrize(
    ("host", "resolved"),
    [
        ("127.0.0.1", ["127.0.0.1"]),
        ("metadata.example", ["169.254.169.254"]),
        ("intranet.example", ["10.20.30.40"]),
        ("both.example", ["93.184.216.34", "10.0.0.1"]),
    ],
)
def test_a_blocked_target_is_refused_before_any_connection(world: World, host: str, resolved: list[str]) -> None:
    agent = http_agent(world, f"http://{host}:9/wake")
    _, issue_id = run_routine(world, agent.id)
    guarded = Delivery(frozenset(), resolve=lambda name, port: resolved, send=_never_connect)
    wake = wake_for(_change_of(issue_id), runtime.now(), guarded)
    assert wake is not None and wake.status == "refused"
    [listed] = wakes_of(world, issue_id)
    assert listed["status"] == "refused" and "address" in listed["lastError"]


def test_a_redirect_is_never_followed(world: World, receiver: Receiver) -> None:
    receiver.status, receiver.location = 302, "http://169.254.169.254/latest/meta-data/"
    agent = http_agent(world, receiver.url)
    _, issue_id = run_routine(world, agent.id)
    sent: list[Target] = []

    def send_and_note(target: Target, *args: Any) -> int:
        sent.append(target)
        return LOCAL.send(target, *args)

    try:
        with pytest.raises(WakeFailed):
            wake_for(_change_of(issue_id), runtime.now(), Delivery(LOCAL.allow_hosts, send=send_and_note))
        assert [target.host for target in sent] == ["127.0.0.1"]
        assert len(receiver.for_issue(issue_id)) == 1
        [wake] = wakes_of(world, issue_id)
        assert wake["status"] == "failed" and "redirects are not followed" in wake["lastError"]
    finally:
        # Later stream readers in this process would retry this wake forever: stop waking this agent.
        json_of(world.board.patch(f"/agents/{agent.id}", {"adapterType": "process"}))


def test_a_rotated_secret_signs_the_next_wake(world: World, receiver: Receiver, tmp_path: Path) -> None:
    agent = http_agent(world, receiver.url)
    rotated = json_of(world.board.post(f"/agents/{agent.id}/wake-secret"), 201)["wakeSecret"]
    _, issue_id = run_routine(world, agent.id)
    read_until(reader(tmp_path / "cp.json"), lambda: bool(receiver.for_issue(issue_id)))
    [got] = receiver.for_issue(issue_id)
    assert verified(rotated, got) and not verified(agent.secret, got)


def test_another_companys_board_cannot_read_an_issues_wakes(world: World, other_world: World) -> None:
    _, issue_id = run_routine(world, world.alpha_id)
    assert other_world.board.get(f"/issues/{issue_id}/wakes").status_code == 403
    assert world.board.get("/issues/not-an-id/wakes").status_code == 404


@pytest.mark.usefixtures("emitting")
def test_wakes_are_counted_and_their_lag_measured_without_logging_headers_or_the_secret(
    world: World, receiver: Receiver, capfd: pytest.CaptureFixture[str]
) -> None:
    down = Receiver()
    agent = http_agent(world, down.url)
    _, issue_id = run_routine(world, agent.id)
    with pytest.raises(WakeFailed):
        wake_for(_change_of(issue_id), runtime.now(), LOCAL)
    json_of(world.board.patch(f"/agents/{agent.id}", {"adapterType": "http", "adapterConfig": {"url": receiver.url}}))
    wake = wake_for(_change_of(issue_id), runtime.now(), LOCAL)
    assert wake is not None and (wake.status, wake.attempts) == ("delivered", 2)
    err = capfd.readouterr().err
    documents = [json.loads(line) for line in err.splitlines() if line.startswith("{") and "_aws" in line]
    assert [d["WakesFailed"] for d in documents if "WakesFailed" in d] == [1]
    [delivered] = [d for d in documents if "WakesDelivered" in d]
    assert delivered["WakesDelivered"] == 1 and delivered["WakeLagSeconds"] >= 0
    assert agent.secret not in err and "agent-token" not in err


def _stream_event(image: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB Streams event as Lambda delivers it, for one INSERT."""
    record = {
        "ApproximateCreationDateTime": 1764600000,
        "Keys": {"id": image["id"]},
        "NewImage": image,
        "SequenceNumber": "1",
        "SizeBytes": 1,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/routines-test-issues/stream/2026-12-01T00:00:00.000"
    return {
        "Records": [
            {
                "eventID": "1",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
                "dynamodb": record,
            }
        ]
    }


@pytest.mark.parametrize("handlers", ["app", "lambdas"])
def test_the_lambda_handler_refuses_loopback_without_the_allow_list(
    world: World, receiver: Receiver, handlers: str
) -> None:
    """app.py's Chalice handler, and chalicelib.lambdas' on the raw event as the packaged function runs it."""
    from chalice.test import Client

    from app import SETTINGS, app
    from chalicelib.lambdas import wake

    assert "127.0.0.1" not in SETTINGS.wake_allow_hosts
    agent = http_agent(world, receiver.url)
    _, issue_id = run_routine(world, agent.id)
    event = _stream_event(_change_of(issue_id).new_image or {})
    if handlers == "lambdas":
        wake.handler(event, None)
    else:
        with Client(app, stage_name="dev", project_dir=str(Path(__file__).resolve().parents[2])) as client:
            client.lambda_.invoke("wake", event)
    assert receiver.got == []
    [wake] = wakes_of(world, issue_id)
    assert wake["status"] == "refused" and "private or reserved" in wake["lastError"]
