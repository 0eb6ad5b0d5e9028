# One command surface: README, CI and pre-commit call these targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
MONGO_VENV := .venv-mongo
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$(PATH)

.PHONY: install install-app run test test-unit lint typecheck bench bench-smoke chaos clean
.DEFAULT_GOAL := help

help:
	@echo "make run        set up and run the whole system locally (gateway, 3 workers, beat, flower)"
	@echo "make stop       stop a running 'make run' (from any terminal)"
	@echo "make test       set up and run the whole test suite (starts its own Mongo server)"
	@echo "make lint | typecheck | chart-test | k8s | bench | chaos"

$(BIN)/ragtasks: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# SecantusDB (GPL-2.0) is only a test/dev server: its own virtualenv, run as a process, never imported.
$(MONGO_VENV)/bin/secantusd-py:
	$(PY) -m venv $(MONGO_VENV)
	$(MONGO_VENV)/bin/pip install -q 'SecantusDB==0.7.0b3'

# What running the system needs; `install` adds the chart, image and Prometheus tools the tests use.
install-app: $(BIN)/ragtasks $(MONGO_VENV)/bin/secantusd-py

install: install-app tools

run: install-app
	bash scripts/run-local.sh

# Stops a `make run` from another terminal (SIGTERM to it: see scripts/run-local.sh) and waits.
.PHONY: stop
stop:
	@bash scripts/run-local.sh stop

# Two runs: everything but the `serial` tests through pytest-xdist, a file per worker; then the
# serial ones (they stop RabbitMQ or time a failover: tests/integration/conftest.py) alone. Both
# run even when the first fails, so one CI log shows every failure. Three xdist workers on two
# cores: the integration tests mostly wait on real processes (measured here: -n 2 10:44, -n 3
# 6:21 for the same 1,192 tests, load average 3-4).
TEST_WORKERS ?= 3

# The benchmarks' smoke runs (marked `bench`) are left to `make bench-smoke`: ~1.5 min of CPU on
# a suite that is CPU-bound here (-n 4 measured no faster than -n 3).
test:
	$(MAKE) -j2 install-app
	$(MAKE) install
	bash scripts/services.sh ensure-tests
	status=0; \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial and not bench" $(PYTEST_ARGS) || status=$$?; \
	$(BIN)/pytest -m "serial and not bench" $(PYTEST_ARGS) || status=$$?; \
	exit $$status

# Every benchmark still runs (tiny configurations, real services): a minute or two.
bench-smoke: install
	bash scripts/services.sh ensure-tests
	$(BIN)/pytest -n 2 --dist loadfile -m bench $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest -n 2 -m "not integration" $(PYTEST_ARGS)

# The code, its tests and the code beside it (scripts, the dashboard generator, the benchmarks).
LINT_PATHS := services tests scripts deploy benchmarks

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# What mypy checks is pyproject.toml's [tool.mypy] `files`: services/, scripts/, deploy/, benchmarks/.
typecheck: install
	$(BIN)/mypy

bench: bench-smoke
	$(BIN)/python -m benchmarks

# The chaos soak (benchmarks/chaos.py): ~5 minutes of load while a summarizer child and parent are
# killed, RabbitMQ and the Mongo server restart; fails if anything was lost or done twice.
# It stops this machine's RabbitMQ app for a few seconds: not part of `make test`. CHAOS_ARGS="--duration 600".
chaos: install
	bash scripts/services.sh ensure-tests
	$(BIN)/python -m benchmarks.chaos $(CHAOS_ARGS)

# Also the local run's data (.run: Mongo data, logs, metrics files, beat's schedule), after stopping it.
clean: stop
	rm -rf $(VENV) $(MONGO_VENV) .tools .pytest_cache .mypy_cache .ruff_cache .run

# Deployment (chart, k8s, image lint) and observability targets live beside this file.
-include mk/*.mk
tools::
