"""One DynamoDB Local (in memory) and one API server for the whole run; tests isolate by company."""

from collections.abc import Iterator

import pytest

from routines.local.dynamodb import free_port, start_scratch

# Rate limits high enough never to bind, except where a test fills a window itself.
_DYNAMODB = start_scratch("test")

# The table models read their endpoint when imported: only now may chalicelib.store be imported.
from routines.local.schema import create_tables  # noqa: E402
from routines.local.server import ApiServer  # noqa: E402
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
