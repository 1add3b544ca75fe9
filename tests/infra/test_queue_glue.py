"""The tick and the dispatcher as app.py wires them, and as the packaged functions run them (chalicelib.lambdas,
on raw Lambda events), with moto standing in for SQS and nothing else.

The tick runs in a child process configured only by its environment, as on Lambda: the settings are read at
import. DynamoDB stays DynamoDB Local (moto serves SQS on its own port, so no DynamoDB request can reach it).
Every test shares one DynamoDB Local and the tick finds every due trigger: assertions are about our own.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from chalice.test import Client
from moto.server import ThreadedMotoServer

from chalicelib import runtime
from chalicelib.domain.models import OPERATOR, Principal, RoutineStatus, ScheduleSpec, Trigger
from chalicelib.domain.schedule import CatchUpPolicy
from chalicelib.domain.timefmt import frozen_at, to_iso
from chalicelib.queue import MAX_DELAY_SECONDS, Message, SqsSender, decode_message, encode_message
from chalicelib.services import directory
from chalicelib.services import routines as routine_service
from chalicelib.services import triggers as trigger_service
from chalicelib.services.commands import CreateRoutine, CreateScheduleTrigger
from chalicelib.store import routines, runs
from routines.local.dynamodb import DynamoDBLocal, free_port
from routines.metering import counting_requests
from routines.packaging import ITEM_ACTIONS
from tests.moments import utc

ROOT = Path(__file__).resolve().parents[2]
BOARD = Principal.for_board(None)
# EventBridge's scheduled event, as Lambda hands it to the tick (the tick reads the clock, not its `time`).
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/routines-dev-tick"],
    "detail": {},
}
TICK_IN_LAMBDA = {
    "app": f"""
import json
from chalice.test import Client
from app import app

with Client(app, stage_name="dev", project_dir={str(ROOT)!r}) as client:
    print(json.dumps(client.lambda_.invoke("tick", {SCHEDULED_EVENT!r}).payload))
""",
    "lambdas": f"""
import json
from chalicelib.lambdas import tick

print(json.dumps(tick.handler({SCHEDULED_EVENT!r}, None)))
""",
}
HANDLERS = list(TICK_IN_LAMBDA)
DISPATCH_IN_LAMBDA = f"""
import json, os
from chalice.test import Client
from app import app

with Client(app, stage_name="dev", project_dir={str(ROOT)!r}) as client:
    client.lambda_.invoke("dispatch", client.events.generate_sqs_event([os.environ["BODY"]]))
print(json.dumps({{}}))
"""


@dataclass
class Queue:
    client: Any
    endpoint: str
    url: str

    def received(self) -> list[str]:
        """Every message body sent so far (each stays invisible for a while after it is read)."""
        bodies: list[str] = []
        while messages := self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages"):
            bodies += [message["Body"] for message in messages]
        return bodies


@dataclass
class Delivery:
    """One tick with a budget of one trigger, and every batch it queued delivered once to the dispatcher."""

    handlers: str
    triggers: list[Trigger]
    summary: dict[str, Any]
    bodies: list[str]
    sent: Counter[str]


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module", params=HANDLERS)
def delivery(request: pytest.FixtureRequest, sqs_endpoint: str, dynamodb: DynamoDBLocal) -> Iterator[Delivery]:
    """The same tick and delivery through app.py's Chalice handlers, then through chalicelib.lambdas."""
    handlers = str(request.param)
    queue = new_queue(sqs_endpoint, f"routines-test-dispatch-{handlers}")
    triggers = yearly_triggers(3)
    try:
        summary = run_tick(queue, budget=1, handlers=handlers)
        bodies = queue.received()
        with counting_requests() as sent:
            deliver(bodies, handlers)
        yield Delivery(handlers, triggers, summary, bodies, sent)
    finally:
        for trigger in triggers:
            routines.set_due(trigger, RoutineStatus.archived)


def new_queue(endpoint: str, name: str) -> Queue:
    client = botocore.session.get_session().create_client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="moto",
        aws_secret_access_key="moto",
    )
    return Queue(client, endpoint, client.create_queue(QueueName=name)["QueueUrl"])


def yearly_triggers(count: int) -> list[Trigger]:
    """Routines, each with a trigger for 1 January whose slot of this year is due and not yet fired."""
    now = runtime.now()
    company = directory.create_company(OPERATOR, "Glue", None, now, runtime.new_id)
    agent = directory.create_agent(company, "Alpha", None, now, runtime.new_id)
    command = CreateRoutine(
        title="New year", assignee_agent_id=agent.id, catch_up_policy=CatchUpPolicy.enqueue_missed_with_cap
    )
    body = CreateScheduleTrigger(kind="schedule", cron_expression="0 0 1 1 *", timezone="UTC")
    made = []
    for _ in range(count):
        routine = routine_service.create_routine(BOARD, company.id, command, now, runtime.new_id)
        trigger = trigger_service.create_trigger(BOARD, routine, body, "http://test", now, runtime.new_id).trigger
        slot = ScheduleSpec(body.cron_expression, body.timezone, f"{now.year}-01-01T00:00:00.000Z")
        due = replace(trigger, schedule=slot)
        routines.save_trigger(due, RoutineStatus.active)
        made.append(due)
    return made


def run_tick(queue: Queue, budget: int, handlers: str) -> dict[str, Any]:
    """One invocation of the tick in a fresh process whose environment names the queue and the budget."""
    return in_lambda(TICK_IN_LAMBDA[handlers], queue, {"ROUTINES_TICK_BUDGET_TRIGGERS": str(budget)})


def in_lambda(script: str, queue: Queue, variables: dict[str, str]) -> dict[str, Any]:
    """Runs `script` in a fresh process configured by its environment, which names the queue; its last line."""
    env = {
        **os.environ,
        "ROUTINES_DISPATCH_QUEUE_URL": queue.url,
        "AWS_ENDPOINT_URL_SQS": queue.endpoint,
        "AWS_ACCESS_KEY_ID": "moto",
        "AWS_SECRET_ACCESS_KEY": "moto",
        **variables,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def deliver(bodies: list[str], handlers: str) -> None:
    """Each message to the dispatcher, one per invocation (the event source's batch size is 1)."""
    if handlers == "lambdas":
        from chalicelib.lambdas import dispatch

        for body in bodies:
            dispatch.handler(sqs_event([body]), None)
        return
    from app import app

    with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
        for body in bodies:
            client.lambda_.invoke("dispatch", sqs_event([body]))


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping hands the dispatcher."""
    arn = "arn:aws:sqs:us-east-1:123456789012:routines-dev-dispatch"
    records = [
        {
            "messageId": f"059f36b4-87a3-44ab-83d2-66197{number:07d}",
            "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{number}",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1767225600000",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1767225600001",
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1",
        }
        for number, body in enumerate(bodies)
    ]
    return {"Records": records}


def history(trigger: Trigger) -> list[tuple[str | None, str]]:
    return [(run.scheduled_for, run.status) for run in runs.list_runs(trigger.routine_id, 100)]


def test_the_tick_queues_the_triggers_beyond_its_budget(delivery: Delivery) -> None:
    queued = [trigger_id for body in delivery.bodies for trigger_id in decode_message(body).trigger_ids]
    assert delivery.summary["queued"] == len(queued) == len(set(queued))
    # A budget of one leaves at least two of our three due triggers to the dispatcher.
    assert len({trigger.id for trigger in delivery.triggers} & set(queued)) >= 2


def test_every_due_trigger_fires_its_slot_once_and_advances(delivery: Delivery) -> None:
    for trigger in delivery.triggers:
        assert trigger.schedule is not None
        assert history(trigger) == [(trigger.schedule.next_run_at, "issue_created")]
        stored = routines.get_trigger(trigger.id)
        assert stored is not None and stored.schedule is not None
        assert (stored.schedule.next_run_at or "") > (trigger.schedule.next_run_at or "")


def test_a_duplicate_delivery_creates_nothing_new(delivery: Delivery) -> None:
    before = [(history(trigger), routines.get_trigger(trigger.id)) for trigger in delivery.triggers]
    deliver(delivery.bodies, delivery.handlers)
    assert [(history(trigger), routines.get_trigger(trigger.id)) for trigger in delivery.triggers] == before


def test_the_dispatcher_sends_only_requests_its_policy_allows(delivery: Delivery) -> None:
    sent = set(delivery.sent)
    # TransactWriteItems is authorized item by item, by the Put/Update/Delete/ConditionCheck actions.
    if "TransactWriteItems" in sent:
        sent = (sent - {"TransactWriteItems"}) | {"PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"}
    assert sent and {f"dynamodb:{operation}" for operation in sent} <= set(ITEM_ACTIONS)


@pytest.mark.parametrize("handlers", HANDLERS)
def test_a_batch_with_a_failed_trigger_raises_so_that_sqs_delivers_it_again(handlers: str) -> None:
    [trigger] = yearly_triggers(1)
    assert trigger.schedule is not None
    broken = replace(trigger, schedule=replace(trigger.schedule, timezone="Nowhere/Atlantis"))
    routines.save_trigger(broken, RoutineStatus.active)
    try:
        with pytest.raises(RuntimeError, match="1 of 1 triggers failed to dispatch"):
            deliver([encode_message(Message([trigger.id]))], handlers)
    finally:
        routines.set_due(broken, RoutineStatus.archived)
    assert history(trigger) == []


def test_a_look_ahead_batch_is_held_back_until_its_slot_in_whole_seconds(sqs_endpoint: str) -> None:
    queue = new_queue(sqs_endpoint, "routines-test-look-ahead")
    delays: list[int | None] = []
    queue.client.meta.events.register(
        "provide-client-params.sqs.SendMessage", lambda params, **_: delays.append(params.get("DelaySeconds"))
    )
    now = utc(2027, 2, 1, 10, 0, 0)
    sender = SqsSender(queue.client, queue.url, frozen_at(now))

    sender.send_later(["a", "b"], to_iso(now + timedelta(milliseconds=2200)))
    sender.send_later(["c"], to_iso(now + timedelta(hours=1)))
    sender.send(["d"])

    assert delays == [3, MAX_DELAY_SECONDS, None]
    # Only the batch sent for now is visible yet: SQS holds the others back.
    assert [decode_message(body) for body in queue.received()] == [Message(["d"])]


def test_the_dispatcher_sends_an_early_batch_back_to_the_queue_and_fires_nothing(sqs_endpoint: str) -> None:
    queue = new_queue(sqs_endpoint, "routines-test-early")
    [trigger] = yearly_triggers(1)  # due now: only the message's slot holds it back
    try:
        slot = to_iso(runtime.now() + timedelta(hours=1))
        body = encode_message(Message([trigger.id], slot))
        in_lambda(DISPATCH_IN_LAMBDA, queue, {"BODY": body})
        assert history(trigger) == []
        # The message waits again (up to 15 minutes) for the slot it carries.
        assert queue.client.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )["Attributes"] == {"ApproximateNumberOfMessagesDelayed": "1"}
    finally:
        routines.set_due(trigger, RoutineStatus.archived)
