"""The Chalice app served on a local port, in a thread, with the stage's environment applied."""

import os
import threading
from pathlib import Path

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, LocalDevServer, create_local_server

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Without TCP_NODELAY every response on a kept-alive connection waits ~40 ms for delayed ACKs.
ChaliceRequestHandler.disable_nagle_algorithm = True


class ApiServer:
    """`chalice local` without autoreload, so a tick thread can share the process."""

    def __init__(self, host: str, port: int, stage: str = "dev") -> None:
        factory = CLIFactory(str(PROJECT_DIR), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=stage)
        from app import app

        self.server: LocalDevServer = create_local_server(app, config, host, port)
        # http.server listens with a backlog of 5: a burst of new connections would be reset.
        self.server.server.socket.listen(128)
        self.thread = threading.Thread(target=self.server.server.serve_forever, name="api", daemon=True)

    def start(self) -> "ApiServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
