"""`GET /api/health` and `GET /api/openapi.json`: no auth."""

from typing import Any

from chalice import Blueprint, Response

from chalicelib import __version__
from chalicelib.store.health import reachable_tables

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def health() -> Response:
    """The version and whether each table answers."""
    tables = reachable_tables()
    healthy = all(tables.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "version": __version__, "tables": tables}
    return Response(body=body, status_code=200 if healthy else 503)


@bp.route("/openapi.json", methods=["GET"])
def openapi() -> dict[str, Any]:
    """This API's OpenAPI document, generated from the models that validate requests."""
    # Imported here: the response models cost ~20 ms of import that no other route needs.
    from chalicelib.api.openapi import build_document

    return build_document()
