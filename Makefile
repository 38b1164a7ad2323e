# newsflow: `make run` and `make test` are all a fresh machine with Python 3.11 and make needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: install run test lint format bench clean server deploy worker

install: $(VENV)/.installed

# A venv with uv in it, then `uv sync` against the committed lock (seconds, not minutes). The
# packages' bytecode is compiled here, once: uv leaves it to the first import, and where
# PYTHONDONTWRITEBYTECODE is set (as on our CI machines) every process compiled Prefect again
# (`import prefect` 4.5 s, against 1.7 s with it compiled; `make test` spends minutes in it).
$(VENV)/.installed: pyproject.toml uv.lock Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
	$(BIN)/uv sync --frozen --inexact --quiet --compile-bytecode
	touch $@

run: install
	$(BIN)/newsflow run

# Two pytest workers, a test file each at a time (module fixtures stay shared): the suite spends
# half its time waiting on subprocesses and servers. The slowest files go first (tests/conftest.py,
# SLOWEST_FILES), not xdist's order. `TEST_WORKERS=0 make test` runs it in one.
TEST_WORKERS ?= 2
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q --numprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .prefect .pytest_cache .ruff_cache

# --- On a Prefect server: run each in its own terminal (README: "Running on a Prefect server") ---
PREFECT_PORT ?= 4200
POOL ?= newsflow
server deploy worker: export PREFECT_API_URL := http://127.0.0.1:$(PREFECT_PORT)/api

# The API and UI on 127.0.0.1 only, state (SQLite, logs) under .prefect/; Ctrl-C stops it.
server: install
	mkdir -p "$(PREFECT_HOME)"
	exec $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

# The process pool (one flow run at a time: the warehouse has one writer), every deployment, and
# the automation that crashes a run whose process died unseen (deployments/zombie_runs.py).
deploy: install
	$(BIN)/prefect --no-prompt work-pool create $(POOL) --type process --overwrite
	$(BIN)/prefect work-pool set-concurrency-limit $(POOL) 1
	cd deployments && $(CURDIR)/$(BIN)/prefect --no-prompt deploy --all
	$(BIN)/python deployments/zombie_runs.py

# Runs the pool's flow runs in this checkout (the pull step reads NEWSFLOW_HOME); Ctrl-C stops it.
worker: export NEWSFLOW_HOME := $(CURDIR)
worker: export PREFECT_LOGGING_LEVEL := INFO
worker: install
	exec $(BIN)/prefect worker start --pool $(POOL) --type process
