"""An issue's wake-ups: what each signed POST to its agent answered."""

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.http import Call, Routes
from chalicelib.services import issues

bp = Blueprint(__name__)
routes = Routes(bp, "issues")


@routes.get("/issues/{issueId}/wakes", errors=(403, 404))
def list_wakes(call: Call, issueId: str) -> list[responses.Wake]:
    """An issue's wake-ups

    One entry per wake id (the `X-Routines-Wake-Id` its agent received): the latest attempt's status
    (`delivered`, `failed` and being retried, or `refused` for a blocked target), attempts and error.
    """
    return [responses.Wake.of(wake) for wake in issues.list_wakes(call.principal, issueId)]
