"""Requests no route takes get our error shape, never the request's credentials back; and the local server
refuses a body it cannot read as sent instead of dropping it or hanging."""

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import requests

from routines.local.dynamodb import free_port
from routines.local.server import ApiServer
from tests.support import World

KEY = "rk_live_do-not-echo-me"


def root_of(api_url: str) -> str:
    return api_url.removesuffix("/api")


@pytest.mark.parametrize(
    "path",
    [
        "/api/routines/018f0000-0000-7000-8000-000000000000/revisions/none/extra",
        "/api/nope",
        "/api",
        "/",
        "/favicon.ico",
        "/not/an/api/path",
        "/api/companies/x/routines/y/z",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unmatched_path_is_a_404_that_echoes_nothing(api_url: str, path: str, method: str) -> None:
    response = requests.request(method, root_of(api_url) + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)

    assert (response.status_code, response.json()) == (404, {"error": "Not found"})
    assert KEY not in response.text and KEY not in str(response.headers)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/routines/{routine}", "GET, PATCH"),
        ("DELETE", "/health", "GET"),
        ("POST", "/issues/{issue}", "GET, PATCH"),
        ("OPTIONS", "/companies", "GET, POST"),
    ],
)
def test_a_known_path_with_a_wrong_method_is_a_405_naming_what_it_takes(
    world: World, method: str, path: str, allowed: str
) -> None:
    routine_id = world.routine()["id"]
    url = path.format(routine=routine_id, issue="DEMO-1")

    response = world.alpha.request(method, url, headers={"Authorization": f"Bearer {KEY}"})

    assert (response.status_code, response.json()) == (405, {"error": f"Method {method} not allowed"})
    assert response.headers["Allow"] == allowed
    assert KEY not in response.text


def test_health_with_a_body_answers_as_health(api_url: str) -> None:
    response = requests.get(f"{api_url}/health", data="hello", headers={"Content-Type": "text/plain"}, timeout=30)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def send_raw(url: str, request: bytes) -> tuple[int, dict[str, str]]:
    """The status and JSON body of the answer to bytes written as they are (the server closes afterwards)."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_chunked_body_is_a_411_not_a_run_without_its_body(world: World, api_url: str) -> None:
    routine_id = world.routine()["id"]
    body = json.dumps({"idempotencyKey": "chunked", "payload": {"x": 1}}).encode()
    request = (
        (
            f"POST /api/routines/{routine_id}/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {world.board.key}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )

    status, answer = send_raw(api_url, request)

    assert status == 411
    assert answer == {"error": "Chunked request bodies are not supported: send the body with a Content-Length"}
    assert world.board.get(f"/routines/{routine_id}/runs").json() == []


@pytest.fixture(scope="module")
def impatient_api(dynamodb: object) -> Iterator[str]:
    """A server of its own that waits only briefly for a body."""
    port = free_port()
    server = ApiServer("127.0.0.1", port, body_timeout_seconds=0.5).start()
    yield f"http://127.0.0.1:{port}/api"
    server.stop()


def test_a_body_shorter_than_its_content_length_times_out_with_an_error(impatient_api: str) -> None:
    request = b"POST /api/companies HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"

    status, answer = send_raw(impatient_api, request)

    assert status == 408
    assert answer == {"error": "The body is shorter than its Content-Length (100 bytes)"}


def test_a_malformed_content_length_is_a_400(impatient_api: str) -> None:
    status, answer = send_raw(impatient_api, b"POST /api/companies HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")

    assert (status, answer) == (400, {"error": "Content-Length must be a whole number of bytes"})
