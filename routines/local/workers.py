"""The API served from N forked processes sharing one listening socket (`routines dev --workers N`).

One Python process answers one request's Python at a time (the GIL); N processes answer N. The parent binds
the port once and forks before it starts any thread, so each child begins with one thread and a copy of the
imported app. The children serve; DynamoDB Local, the tick and the wake reader stay in the parent, which stops
the children by PID.
"""

import contextlib
import importlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from chalicelib import runtime
from routines.local.server import ApiServer, listen

STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Exited:
    """A worker that ended: its PID and how (`exited with code 1`, `killed by signal 9`)."""

    pid: int
    how: str


@dataclass
class Workers:
    """`count` worker processes serving the API on `host:port`."""

    host: str
    port: int
    count: int
    pids: list[int] = field(default_factory=list)

    def start(self) -> "Workers":
        """Forks the workers; the caller must not have started a thread yet (a fork copies only its own)."""
        importlib.import_module("app")  # imported once, here: every child starts with it
        listener = listen(self.host, self.port)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or each child would write the parent's buffered text again
        for _ in range(self.count):
            pid = os.fork()
            if pid == 0:
                _serve_in_child(self.host, self.port, listener)
            self.pids.append(pid)
        listener.close()  # the children hold it
        return self

    def exited(self) -> list[Exited]:
        """The workers that ended since the last call; they are no longer counted as running."""
        ended = [Exited(pid, _how(status)) for pid in self.pids if (status := _reap(pid)) is not None]
        self.pids = [pid for pid in self.pids if pid not in {gone.pid for gone in ended}]
        return ended

    def stop(self) -> None:
        """SIGTERM to every worker, then SIGKILL to any still running after `STOP_SECONDS`."""
        for pid in self.pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while self.exited() is not None and self.pids and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.pids:
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.pids = []


def _serve_in_child(host: str, port: int, listener: socket.socket) -> None:
    """A worker's whole life: it never returns into the parent's code."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # Ctrl-C reaches the whole process group: the parent stops the workers itself, in order.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # The parent's DynamoDB clients hold its pooled connections: make this process's own.
        runtime.configure(runtime.settings())
        server = ApiServer(host, port, listener=listener)
        print(f"worker {os.getpid()} serving http://{host}:{port}", flush=True)
        server.server.server.serve_forever()
        code = 0
    finally:
        os._exit(code)


def _reap(pid: int) -> int | None:
    """The wait status of a worker that ended, or None while it runs."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if done else None


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended already
        os.kill(pid, signum)
