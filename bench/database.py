"""The benchmark's own DynamoDB Local, in memory, and the environment that points the store at it."""

import os
import resource
from pathlib import Path

from routines.local.dynamodb import DynamoDBLocal, start_scratch

_started: list[DynamoDBLocal] = []


def start() -> DynamoDBLocal:
    """Starts DynamoDB Local and configures this process (and its children, by environment) for it."""
    database = start_scratch("bench")
    _started.append(database)
    return database


def cpu_seconds() -> float:
    """CPU time used so far by this process and by the DynamoDB Local it started (if it started one).

    On a shared machine, CPU time hardly notices the neighbours that a wall clock counts in full.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + sum(process_cpu(db.process.pid) for db in _started if db.process)


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) the process has used so far, from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
