"""The Chalice app served on a local port, in a thread, with the stage's environment applied.

`chalice local`'s request handler is replaced by one that answers, in the API's error shape, what it would get
wrong: a greedy `{proxy+}` route takes what no other route matches (as on API Gateway, instead of a 403 that
echoes the `Authorization` header); a chunked body, which it would silently drop, is a 411; and a body shorter
than its `Content-Length`, on which it would wait forever, is a 408 after a timeout.
"""

import functools
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from chalice.cli.factory import CLIFactory
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaEventConverter,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    MatchResult,
    RouteMatcher,
    ThreadedHTTPServer,
)

from chalicelib.api.fallback_api import GREEDY

PROJECT_DIR = Path(__file__).resolve().parents[2]
BODY_TIMEOUT_SECONDS = 10.0
# Without TCP_NODELAY every response on a kept-alive connection waits ~40 ms for delayed ACKs.
ChaliceRequestHandler.disable_nagle_algorithm = True


class ApiServer:
    """`chalice local` without autoreload, so a tick thread can share the process; on `listener`, a socket
    already bound and listening (shared by worker processes), instead of binding `host:port` itself."""

    def __init__(
        self,
        host: str,
        port: int,
        stage: str = "dev",
        body_timeout_seconds: float = BODY_TIMEOUT_SECONDS,
        listener: socket.socket | None = None,
    ) -> None:
        factory = CLIFactory(str(PROJECT_DIR), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=stage)
        from app import app

        _make_thread_local(app)
        # One gateway for the server: chalice builds one (and sorts every route) for each connection.
        handler = functools.partial(
            RequestHandler, gateway=_gateway(app, config), body_timeout_seconds=body_timeout_seconds
        )
        server_cls = functools.partial(_Adopting, listener) if listener else ThreadedHTTPServer
        self.server = LocalDevServer(app, config, host, port, handler_cls=handler, server_cls=server_cls)
        if listener is None:
            # http.server listens with a backlog of 5: a burst of new connections would be reset.
            self.server.server.socket.listen(128)
        self.thread = threading.Thread(target=self.server.server.serve_forever, name="api", daemon=True)

    def start(self) -> "ApiServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket for worker processes to share. It does not block: every worker wakes for a new
    connection, one accepts it, and the others' accept fails at once (socketserver ignores that) instead of
    waiting for the next."""
    listener = socket.create_server((host, port), backlog=128)
    listener.setblocking(False)
    return listener


class _Adopting(ThreadedHTTPServer):
    """The threaded server on a socket bound and listening already."""

    def __init__(self, listener: socket.socket, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler, bind_and_activate=False)
        self.server_close()  # the socket it made, never bound
        self.socket = listener
        self.server_address = listener.getsockname()[:2]
        self.server_name, self.server_port = address


def _gateway(app: Any, config: Any) -> LocalGateway:
    gateway = LocalGateway(app, config)
    gateway.event_converter = LambdaEventConverter(GreedyRoutes(list(app.routes)), app.api.binary_types)
    return gateway


def _make_thread_local(app: Any) -> None:
    """What chalice's `create_local_server` does to the app, done once per process however many servers
    serve it: its `current_request` becomes per thread."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


class GreedyRoutes(RouteMatcher):
    """Chalice's route matching plus API Gateway's greedy `{proxy+}`: a path no other route matches goes there,
    with the path in the `proxy` parameter."""

    def match_route(self, url: str) -> MatchResult:
        try:
            found: MatchResult | None = super().match_route(url)
        except ValueError:
            found = None
        if found is not None and found.route != GREEDY:
            return found
        parsed = urlparse(url)
        return MatchResult(GREEDY, {"proxy": parsed.path.lstrip("/")}, parse_qs(parsed.query, keep_blank_values=True))


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestHandler(ChaliceRequestHandler):
    """Chalice's handler, with greedy routes, and refusing a body it cannot read as sent."""

    def __init__(
        self, *args: Any, app_object: Any, config: Any, gateway: LocalGateway, body_timeout_seconds: float
    ) -> None:
        self.body_timeout_seconds = body_timeout_seconds
        self.local_gateway = gateway
        BaseHTTPRequestHandler.__init__(self, *args)

    def _parse_payload(self) -> tuple[dict[str, Any], bytes | None]:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            raise Refused(411, "Chunked request bodies are not supported: send the body with a Content-Length")
        length = (self.headers.get("content-length") or "0").strip()
        if not length.isascii() or not length.isdigit():
            raise Refused(400, "Content-Length must be a whole number of bytes")
        body = self._read(int(length)) if int(length) else None
        return dict(self.headers), body

    def _read(self, length: int) -> bytes:
        self.connection.settimeout(self.body_timeout_seconds)
        try:
            body: bytes = self.rfile.read(length)
        except TimeoutError as exc:
            raise Refused(408, f"The body is shorter than its Content-Length ({length} bytes)") from exc
        finally:
            self.connection.settimeout(None)
        if len(body) < length:
            raise Refused(400, f"The body is shorter than its Content-Length ({length} bytes)")
        return body

    def _refusing_handle(self) -> None:
        try:
            self._generic_handle()
        except Refused as refusal:
            # The rest of the body is still in the stream: this connection can carry no further request.
            self.close_connection = True
            body = json.dumps({"error": refusal.message})
            self._send_http_response(refusal.status, {"Connection": "close"}, body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _refusing_handle
