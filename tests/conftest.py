"""One DynamoDB Local (in memory) and one API server for the whole run; tests isolate by company."""

import os
from collections.abc import Iterator

import pytest

from chalicelib.local.dynamodb import DynamoDBLocal, free_port

_DYNAMODB = DynamoDBLocal(None).start()
os.environ.update(
    ROUTINES_DYNAMODB_ENDPOINT=_DYNAMODB.endpoint,
    ROUTINES_DYNAMODB_ACCESS_KEY_ID="test",
    ROUTINES_DYNAMODB_SECRET_ACCESS_KEY="test",
    ROUTINES_TABLE_PREFIX="test",
    AWS_DEFAULT_REGION="us-east-1",
    # Every test delivers from 127.0.0.1: limits high enough never to bind, except where a test fills a window.
    ROUTINES_WEBHOOK_RATE_PER_ID="1000",
    ROUTINES_WEBHOOK_RATE_PER_IP="1000000",
)

# The table models read their endpoint when imported: only now may chalicelib.store be imported.
from chalicelib.local.schema import create_tables  # noqa: E402
from chalicelib.local.server import ApiServer  # noqa: E402
from tests.support import World, build_world  # noqa: E402

create_tables()


def pytest_unconfigure(config: pytest.Config) -> None:
    _DYNAMODB.stop()


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    port = free_port()
    server = ApiServer("127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/api"
    server.stop()


@pytest.fixture
def world(api_url: str) -> "World":
    return build_world(api_url)


@pytest.fixture
def other_world(api_url: str) -> "World":
    return build_world(api_url, "Globex")
