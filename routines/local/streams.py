"""The issues table's stream in `routines dev`: DynamoDB Local's stream, read the way Lambda reads DynamoDB's.

Each record goes to the handler Lambda runs (`services.wakes.wake_for`) until it succeeds, with backoff; only
then is its sequence number written to the checkpoint under the data dir. A reader killed at any moment
(`kill -9` between the dispatch's commit and the wake) resumes after the last record it finished.
"""

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chalicelib.observability import log, log_exception
from chalicelib.services.wakes import Change, WakeFailed
from chalicelib.settings import Settings

Handler = Callable[[Change], object]
BACKOFF_SECONDS = (0.5, 1, 2, 4, 8, 15)


class Stopped(Exception):
    """The reader was told to stop while a record waited for its retry: it stays unfinished."""


class StreamReader:
    """Reads every shard of one table's stream, in order, from its checkpoint (or the oldest record)."""

    def __init__(
        self,
        client: Any,
        stream_arn: str,
        checkpoint: Path,
        handle: Handler,
        backoff: Sequence[float] = BACKOFF_SECONDS,
    ) -> None:
        self._client = client
        self._stream_arn = stream_arn
        self._checkpoint = checkpoint
        self._handle = handle
        self._backoff = backoff
        self._positions: dict[str, str] = _read_checkpoint(checkpoint)
        self._iterators: dict[str, str | None] = {}

    def run(self, stop: threading.Event, poll_seconds: float = 0.2) -> None:
        """Reads until `stop` is set."""
        while not stop.is_set():
            try:
                busy = self.poll(stop)
            except Stopped:
                return
            except Exception:
                log_exception("reading the issues stream failed; starting again from the checkpoint")
                self._iterators.clear()
                busy = False
            if not busy:
                stop.wait(poll_seconds)

    def poll(self, stop: threading.Event) -> bool:
        """One read of every open shard; True when it found records."""
        found = False
        for shard in self._shards():
            records = self._read(shard)
            for record in records:
                self._deliver(record, stop)
                self._advance(shard, record["dynamodb"]["SequenceNumber"])
            found = found or bool(records)
        return found

    def _shards(self) -> list[str]:
        description = self._client.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        shards = [shard["ShardId"] for shard in description["Shards"]]
        return [shard for shard in shards if self._iterators.get(shard, "") is not None]

    def _read(self, shard: str) -> list[dict[str, Any]]:
        iterator = self._iterators.get(shard) or self._first_iterator(shard)
        try:
            answer = self._client.get_records(ShardIterator=iterator, Limit=1000)
        except (self._client.exceptions.TrimmedDataAccessException, self._client.exceptions.ExpiredIteratorException):
            # DynamoDB Local answers so for an iterator taken while its shard was empty: take a new one.
            self._iterators.pop(shard, None)
            return []
        self._iterators[shard] = answer.get("NextShardIterator")  # None: the shard is closed and read
        return list(answer["Records"])

    def _first_iterator(self, shard: str) -> str:
        position = self._positions.get(shard)
        where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position} if position else {}
        where = where or {"ShardIteratorType": "TRIM_HORIZON"}
        answer = self._client.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard, **where)
        return str(answer["ShardIterator"])

    def _deliver(self, record: dict[str, Any], stop: threading.Event) -> None:
        change = Change(record["dynamodb"].get("OldImage"), record["dynamodb"].get("NewImage"))
        for attempt in itertools.count():
            try:
                self._handle(change)
                return
            except WakeFailed as exc:
                log("wake will be retried", level="WARNING", reason=str(exc), attempt=attempt + 1)
            except Exception:
                log_exception("stream record failed; retrying")
            if stop.wait(self._backoff[min(attempt, len(self._backoff) - 1)]):
                raise Stopped()

    def _advance(self, shard: str, sequence_number: str) -> None:
        self._positions[shard] = sequence_number
        partial = self._checkpoint.with_suffix(".tmp")
        partial.write_text(json.dumps(self._positions, indent=2) + "\n")
        partial.replace(self._checkpoint)


def issues_stream_arn() -> str:
    """The issues table's stream, which `create_tables` turns on (the model's `Meta.stream_view_type`)."""
    from chalicelib.store.tables import IssueItem

    description = IssueItem.describe_table()
    if "LatestStreamArn" not in description:
        raise RuntimeError(f"{IssueItem.Meta.table_name} has no stream: delete the data dir's database to recreate it")
    return str(description["LatestStreamArn"])


def _read_checkpoint(path: Path) -> dict[str, str]:
    return dict(json.loads(path.read_text())) if path.exists() else {}


def streams_client(settings: Settings) -> Any:
    """A DynamoDB Streams client for the settings' DynamoDB Local (the same endpoint as the tables)."""
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        "dynamodbstreams",
        endpoint_url=settings.dynamodb_endpoint,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
    )


def read_wakes(settings: Settings, data_dir: Path, stop: threading.Event) -> None:
    """`routines dev`'s wake thread: the issues stream from `<data-dir>/wake-stream.json` on, until `stop`."""
    from chalicelib import runtime
    from chalicelib.services.wakes import Delivery, wake_for

    delivery = Delivery(settings.wake_allow_hosts)
    checkpoint = data_dir / "wake-stream.json"
    reader = StreamReader(
        streams_client(settings),
        issues_stream_arn(),
        checkpoint,
        lambda change: wake_for(change, runtime.now(), delivery),
    )
    reader.run(stop)
