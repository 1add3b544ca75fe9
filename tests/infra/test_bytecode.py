"""`routines package` adds bytecode to the deployment zip, so a cold start on Lambda compiles nothing."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from routines.packaging import add_bytecode

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def make_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", "import pkg.inner\nVALUE = pkg.inner.VALUE\n")
        archive.writestr("pkg/__init__.py", "")
        archive.writestr("pkg/inner.py", "VALUE = 42\n")
        archive.writestr("pkg/data.json", "{}")
        archive.writestr(f"pkg/__pycache__/inner.{sys.implementation.cache_tag}.pyc", b"stale local bytecode")
    return path


def test_every_module_of_the_zip_gets_unchecked_hash_bytecode(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "deployment.zip")
    assert add_bytecode(archive, RUNTIME) == 3
    with zipfile.ZipFile(archive) as done:
        names = set(done.namelist())
        tag = sys.implementation.cache_tag
        pycs = {f"__pycache__/app.{tag}.pyc", f"pkg/__pycache__/__init__.{tag}.pyc", f"pkg/__pycache__/inner.{tag}.pyc"}
        assert pycs <= names
        assert {"app.py", "pkg/inner.py", "pkg/data.json"} <= names  # the sources stay
        assert len(done.namelist()) == len(names)  # the stale copy is replaced, not duplicated
        # Flags 0b01: hash-based, source not checked (PEP 552), so file times in the zip do not matter.
        assert all(int.from_bytes(done.read(name)[4:8], "little") == 0b01 for name in pycs)


def test_a_process_run_from_the_unpacked_zip_loads_the_bytecode_instead_of_compiling(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "deployment.zip")
    add_bytecode(archive, RUNTIME)
    code = tmp_path / "task"
    zipfile.ZipFile(archive).extractall(code)
    # -B: write no bytecode, as on Lambda's read-only code directory; -v names where each module's code came from.
    done = subprocess.run(
        [sys.executable, "-B", "-v", "-c", "import app; print(app.VALUE)"],
        cwd=code,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(code)},
    )
    assert done.stdout.strip() == "42"
    loaded = [line for line in done.stderr.splitlines() if line.startswith("# code object from")]
    assert any("inner" in line and line.rstrip("'").endswith(".pyc") for line in loaded), loaded


def test_bytecode_for_another_python_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"python3\.99"):
        add_bytecode(make_zip(tmp_path / "deployment.zip"), "python3.99")
