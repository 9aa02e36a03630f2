# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs on three pytest-xdist workers, a test module per worker at a time (module
# fixtures such as a shared server stay in one process): much of it waits on servers,
# subprocesses and databases, so a third worker keeps two cores busy; about 18 minutes
# with its PostgreSQL half. PYTEST_WORKERS=0 runs it serially. It includes
# tests/e2e/test_schemathesis.py, Schemathesis (the test extra) fuzzing the OpenAPI
# document against a real server, about three minutes per backend.
PYTEST_WORKERS ?= 3
# The suite starts a few hundred Python processes (servers, the CLI, examples). Compiled
# once here, none of them compiles the sources again, even where PYTHONDONTWRITEBYTECODE
# keeps Python from writing what it compiled.
SOURCES := common policy catalog registry steward tests benchmarks examples scripts

.PHONY: run test lint format bench console-screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/steward server

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m compileall -q -j 0 $(SOURCES) >/dev/null
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --durations=25 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.catalog_api

# Screenshots of every console page into docs/console/ (headless Debian chromium).
console-screenshots: $(STAMP)
	$(BIN)/python scripts/console_screenshots.py

clean:
	rm -rf $(VENV) .steward .pytest_cache .ruff_cache
