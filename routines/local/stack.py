"""`routines dev`: DynamoDB Local, tables, demo data, the API and a tick thread, all stopped by Ctrl-C."""

import json
import os
import secrets
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib import runtime
from chalicelib.observability import log_exception
from chalicelib.settings import Settings, look_ahead_for
from routines.local.dynamodb import DynamoDBLocal

if TYPE_CHECKING:
    from routines.local.server import ApiServer
    from routines.local.workers import Workers

REGION = "us-east-1"
TABLE_PREFIX = "routines-local"
# Wakes may reach a receiver on this machine (ROUTINES_WAKE_ALLOW_HOSTS on AWS); link-local never.
WAKE_ALLOW_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WORKER_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class LocalDatabase:
    """Where a data dir's DynamoDB Local lives and the per-install key that scopes its data."""

    endpoint: str
    access_key_id: str

    def settings(self) -> Settings:
        """The settings that point the service at this database."""
        return Settings(
            table_prefix=TABLE_PREFIX,
            region=REGION,
            dynamodb_endpoint=self.endpoint,
            access_key_id=self.access_key_id,
            secret_access_key="local",
            wake_allow_hosts=WAKE_ALLOW_HOSTS,
        )


def access_key_id(data_dir: Path) -> str:
    """A random key made once per data dir: DynamoDB Local listens on all interfaces, and without
    `-sharedDb` its data is only visible to clients holding this key."""
    path = data_dir / "access-key-id"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("local" + secrets.token_hex(16))
        path.chmod(0o600)
    return path.read_text().strip()


def read_dev_json(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / "dev.json"
    return json.loads(path.read_text()) if path.exists() else None


def attach(data_dir: Path) -> LocalDatabase:
    """The database of a running `routines dev` for this data dir."""
    info = read_dev_json(data_dir)
    if not info:
        raise SystemExit(f"No local stack found in {data_dir}: start one with `make run`.")
    db = info["dynamodb"]
    return LocalDatabase(db["endpoint"], db["accessKeyId"])


def run_dev(host: str, port: int, data_dir: Path, tick_seconds: float | None, workers: int = 1) -> None:
    """The local stack until Ctrl-C or SIGTERM; the API in this process (`workers=1`) or in that many
    forked ones. A worker that ends stops the whole stack, saying which (exit status 1)."""
    _check_port_free(host, port)
    data_dir = data_dir.resolve()
    (data_dir / "dev.json").unlink(missing_ok=True)
    dynamodb = DynamoDBLocal(data_dir / "dynamodb", log_path=data_dir / "dynamodb.log").start()
    try:
        database = LocalDatabase(dynamodb.endpoint, access_key_id(data_dir))
        runtime.configure(database.settings())
        _serve(host, port, data_dir, database, tick_seconds, workers)
    finally:
        dynamodb.stop()
        (data_dir / "dev.json").unlink(missing_ok=True)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        # A crashed server leaves TIME-WAIT sockets on its port; the server itself binds with SO_REUSEADDR,
        # so the probe must too, or a restart right after a crash is refused.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise SystemExit(f"{host}:{port} is in use (another `routines dev`?): pick another with --port.") from None


def _serve(
    host: str, port: int, data_dir: Path, database: LocalDatabase, tick_seconds: float | None, workers: int
) -> None:
    from routines.local.schema import create_tables

    create_tables()
    demo = _demo(data_dir)
    server = _start_api(host, port, workers)  # before any thread: workers are forked
    stop = threading.Event()
    ticker = threading.Thread(target=_tick_forever, args=(stop, tick_seconds), name="tick", daemon=True)
    if tick_seconds:
        ticker.start()
    # Wakes follow the issues stream with or without the tick: --no-tick stops only the scheduler.
    waker = threading.Thread(target=_wake_forever, args=(database, data_dir, stop), name="wake", daemon=True)
    waker.start()
    info = {"baseUrl": f"http://{host}:{port}/api", **demo, "dynamodb": _dynamodb_info(database)}
    _write_private(data_dir / "dev.json", json.dumps(info, indent=2) + "\n")
    _print_welcome(info, data_dir, tick_seconds, workers)
    # Set both explicitly: a shell that starts us in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        _wait(stop, server)
    finally:
        print("\nStopping: API, tick, wakes and DynamoDB Local.", flush=True)
        stop.set()
        server.stop()


def _start_api(host: str, port: int, workers: int) -> "ApiServer | Workers":
    from routines.local.server import ApiServer
    from routines.local.workers import Workers

    return ApiServer(host, port).start() if workers == 1 else Workers(host, port, workers).start()


def _wait(stop: threading.Event, server: "ApiServer | Workers") -> None:
    """Until Ctrl-C or SIGTERM, or until a worker process ends."""
    from routines.local.workers import Workers

    while not stop.wait(WORKER_POLL_SECONDS if isinstance(server, Workers) else None):
        ended = server.exited() if isinstance(server, Workers) else []
        if ended:
            for worker in ended:
                print(f"API worker {worker.pid} {worker.how}: stopping the stack.", file=sys.stderr, flush=True)
            raise SystemExit(1)


def _demo(data_dir: Path) -> dict[str, Any]:
    """Seeds once per data dir; later starts reuse the same company and keys."""
    path = data_dir / "demo.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    from routines.local.seed import seed_demo

    demo = seed_demo()
    _write_private(path, json.dumps(demo, indent=2) + "\n")
    return demo


def _write_private(path: Path, text: str) -> None:
    """Writes a file holding keys readable by its owner only, from its first byte."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _dynamodb_info(database: LocalDatabase) -> dict[str, str]:
    return {
        "endpoint": database.endpoint,
        "region": REGION,
        "accessKeyId": database.access_key_id,
        "tablePrefix": TABLE_PREFIX,
    }


def _tick_forever(stop: threading.Event, seconds: float) -> None:
    from chalicelib import runtime
    from routines.local.ticker import print_summary, tick_forever

    tick_forever(stop, seconds, runtime.now, runtime.new_id, report=print_summary)


def _wake_forever(database: LocalDatabase, data_dir: Path, stop: threading.Event) -> None:
    from routines.local.streams import read_wakes

    try:
        read_wakes(database.settings(), data_dir, stop)
    except Exception:
        log_exception("the wake stream reader stopped")


def _print_welcome(info: dict[str, Any], data_dir: Path, tick_seconds: float | None, workers: int) -> None:
    alpha = info["agents"][0]
    ahead = f"; slots due within {look_ahead_for(tick_seconds):g} s fire at their second" if tick_seconds else ""
    tick = f"every {tick_seconds:g} s{ahead}" if tick_seconds else "off (run `routines tick`)"
    processes = "1 process (this one)" if workers == 1 else f"{workers} processes"
    print(
        f"""
Routines is running.
  API          {info["baseUrl"]}, served by {processes}
  company      {info["companyId"]}
  project      {info["projectId"]}
  board key    {info["boardApiKey"]}
  agent Alpha  {alpha["id"]}  key {alpha["apiKey"]}
  agent Bravo  {info["agents"][1]["id"]}  key {info["agents"][1]["apiKey"]}
  tick         {tick}
  details      {data_dir / "dev.json"}

Try:
  curl -s -H "Authorization: Bearer {info["boardApiKey"]}" {info["baseUrl"]}/companies/{info["companyId"]}/routines

Ctrl-C stops everything.
""",
        flush=True,
    )
