"""`GET /api/health` and `GET /api/openapi.json`: no auth."""

from typing import Any

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.http import NO_AUTH, Call, Routes
from chalicelib.services.health import check_health

bp = Blueprint(__name__)
routes = Routes(bp, "health")


@routes.get("/health", security=NO_AUTH)
def health(call: Call) -> responses.Health:
    """Version and whether each table answers"""
    found = check_health()
    call.status = 200 if found.status == "ok" else 503
    return responses.Health.of(found)


@routes.get("/openapi.json", security=NO_AUTH)
def openapi(call: Call) -> dict[str, Any]:
    """This document"""
    # Imported here: building the document costs import time that no other route needs.
    from chalicelib.api.openapi import build_document

    return build_document()
