# `make run` and `make test` set everything up themselves; `make setup` is the installation alone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DYNAMODB_JAR_STAMP := .routines/tools/.installed
# Two workers: each starts its own DynamoDB Local and API server (tests/conftest.py).
PYTEST_ARGS ?= -n 2
STAGE ?= dev

.PHONY: setup run test lint format clean

setup: $(INSTALLED) $(DYNAMODB_JAR_STAMP)

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(DYNAMODB_JAR_STAMP): $(INSTALLED)
	$(PY) -c "from routines.local.dynamodb import ensure_jar; print('DynamoDB Local:', ensure_jar())"
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

# Rewrites the checked-in OpenAPI document from the models (tests/api/test_openapi.py fails when it drifts).
openapi: $(INSTALLED)
	$(PY) -m chalicelib.api.openapi > openapi.json.tmp && mv openapi.json.tmp openapi.json

# A stage's deployable template and code, offline (README: Deploy to AWS): dist/sam.json, dist/deployment.zip.
.PHONY: package check-infra
package: $(INSTALLED)
	$(VENV)/bin/routines package --stage $(STAGE) --out dist

# What CI checks of the infrastructure: every stage packages and its template passes cfn-lint.
check-infra: $(INSTALLED)
	$(VENV)/bin/routines package --stage dev --out dist/dev
	$(VENV)/bin/cfn-lint dist/dev/sam.json
	$(VENV)/bin/routines package --stage prod --out dist/prod
	$(VENV)/bin/cfn-lint dist/prod/sam.json

clean:
	rm -rf $(VENV) .routines/tools

# Benchmarks against their own in-memory DynamoDB Local: one JSON line each, then bench/RESULTS.md.
.PHONY: bench
bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) -m bench
