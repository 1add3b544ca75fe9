"""The benchmark's own DynamoDB Local, in memory, and the environment that points the store at it."""

import os
import resource
from pathlib import Path

from chalicelib.local.dynamodb import DynamoDBLocal

_started: list[DynamoDBLocal] = []


def start() -> DynamoDBLocal:
    """Starts DynamoDB Local; must run before anything imports `chalicelib.store` (models read the env)."""
    database = DynamoDBLocal(None).start()
    _started.append(database)
    os.environ.update(
        ROUTINES_DYNAMODB_ENDPOINT=database.endpoint,
        ROUTINES_DYNAMODB_ACCESS_KEY_ID="bench",
        ROUTINES_DYNAMODB_SECRET_ACCESS_KEY="bench",
        ROUTINES_TABLE_PREFIX="bench",
        AWS_DEFAULT_REGION="us-east-1",
        # Every benchmark client delivers from 127.0.0.1: limits high enough never to bind (they still count).
        ROUTINES_WEBHOOK_RATE_PER_ID="1000",
        ROUTINES_WEBHOOK_RATE_PER_IP="1000000",
    )
    return database


def cpu_seconds() -> float:
    """CPU time used so far by this process and by the DynamoDB Local it started (if it started one).

    On a shared machine, CPU time hardly notices the neighbours that a wall clock counts in full.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + sum(_process_cpu(db.process.pid) for db in _started if db.process)


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
