"""The packaged tick, dispatcher and wake functions import only what they use: no Chalice, pydantic or API.

Their behaviour, through app.py's handlers and through these, is in test_queue_glue.py and tests/wakes.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = 'm.split(".")[0] in {"pydantic", "pydantic_core", "chalice"} or m.startswith("chalicelib.api")'


def imported_by(module: str) -> list[str]:
    """The Chalice, pydantic and API modules a fresh interpreter has loaded after importing `module`."""
    statement = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if {HEAVY})))"
    done = subprocess.run([sys.executable, "-c", statement], cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


def test_the_lambda_handlers_import_neither_chalice_nor_pydantic_nor_the_api() -> None:
    assert imported_by("chalicelib.lambdas") == []


def test_the_app_imports_them_all_which_is_what_the_handlers_avoid() -> None:
    heavy = imported_by("app")
    assert {"chalice", "pydantic", "chalicelib.api.http"} <= set(heavy)
