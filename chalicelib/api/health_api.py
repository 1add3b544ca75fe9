"""`GET /api/health`: no auth; the version and whether each table answers."""

from typing import Any

from chalice import Blueprint, Response

from chalicelib import __version__
from chalicelib.store.health import reachable_tables

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    tables = reachable_tables()
    healthy = all(tables.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "version": __version__, "tables": tables}
    return Response(body=body, status_code=200 if healthy else 503)
