"""Each packaged function but the API's imports only what it uses: no Chalice, pydantic or API, and not the
other functions' services. Their behaviour, through app.py's handlers and through these, is in
test_queue_glue.py and tests/wakes.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "pydantic_core", "chalice", "chalicelib.api")
SCHEDULING = ("chalicelib.services.scheduler", "chalicelib.queue")
WAKING = ("chalicelib.services.wakes", "chalicelib.services.pinned_http")


def imported_by(module: str, watched: tuple[str, ...]) -> list[str]:
    """The modules in or under `watched` that a fresh interpreter has loaded after importing `module`."""
    wanted = f"m == w or m.startswith(w + '.') for w in {watched!r}"
    statement = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if any({wanted}))))"
    done = subprocess.run([sys.executable, "-c", statement], cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("name", ["tick", "dispatch", "wake"])
def test_the_lambda_handlers_import_neither_chalice_nor_pydantic_nor_the_api(name: str) -> None:
    assert imported_by(f"chalicelib.lambdas.{name}", HEAVY) == []


@pytest.mark.parametrize(("name", "others"), [("tick", WAKING), ("dispatch", WAKING), ("wake", SCHEDULING)])
def test_each_handler_imports_none_of_the_other_functions_services(name: str, others: tuple[str, ...]) -> None:
    assert imported_by(f"chalicelib.lambdas.{name}", others) == []


def test_the_app_imports_what_the_handlers_avoid() -> None:
    assert {"chalice", "pydantic", "chalicelib.api"} <= set(imported_by("app", HEAVY))
