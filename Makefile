# `make run` and `make test` set everything up themselves; `make setup` is the installation alone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DYNAMODB_JAR_STAMP := .routines/tools/.installed
PYTEST_ARGS ?=

.PHONY: setup run test lint format clean

setup: $(INSTALLED) $(DYNAMODB_JAR_STAMP)

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(DYNAMODB_JAR_STAMP): $(INSTALLED)
	$(PY) -c "from chalicelib.local.dynamodb import ensure_jar; print('DynamoDB Local:', ensure_jar())"
	touch $@

run: setup
	$(VENV)/bin/routines dev

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .routines/tools
