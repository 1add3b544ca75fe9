"""One DynamoDB Local (in memory) and one API server per test process; tests isolate by company.

Unit tests (tests/unit) are pure: they start no database. Every other test gets the database.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from routines.local.dynamodb import DynamoDBLocal, free_port, start_scratch
from tests.support import World, build_world

UNIT = Path(__file__).parent / "unit"


@pytest.fixture(autouse=True)
def _database_unless_unit(request: pytest.FixtureRequest) -> None:
    if UNIT not in request.node.path.parents:
        request.getfixturevalue("dynamodb")


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[DynamoDBLocal]:
    from routines.local.schema import create_tables

    database = start_scratch("test")
    create_tables()
    yield database
    database.stop()


@pytest.fixture(scope="session")
def api_url(dynamodb: DynamoDBLocal) -> Iterator[str]:
    from routines.local.server import ApiServer

    port = free_port()
    server = ApiServer("127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/api"
    server.stop()


@pytest.fixture
def emitting() -> Iterator[None]:
    """Metrics on, as in Lambda; afterwards the configuration app.py makes from the settings."""
    from chalicelib import observability, runtime

    observability.configure(runtime.settings().log_level, emit_metrics=True, namespace="Routines/test")
    yield
    observability.configure(
        runtime.settings().log_level, runtime.settings().emit_metrics, runtime.settings().metrics_namespace
    )


@pytest.fixture
def world(api_url: str) -> World:
    return build_world(api_url)


@pytest.fixture
def other_world(api_url: str) -> World:
    return build_world(api_url, "Globex")
