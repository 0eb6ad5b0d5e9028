# One command surface: README, CI and pre-commit call these targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
MONGO_VENV := .venv-mongo
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$(PATH)

.PHONY: install install-app run test test-unit lint typecheck bench clean
.DEFAULT_GOAL := help

help:
	@echo "make run        set up and run the whole system locally (gateway, 3 workers, beat, flower)"
	@echo "make test       set up and run the whole test suite (starts its own Mongo server)"
	@echo "make lint | typecheck | chart-test | k8s | bench"

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

test: install
	bash scripts/services.sh ensure
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check services tests benchmarks
	$(BIN)/ruff format --check services tests benchmarks

typecheck: install
	$(BIN)/mypy

bench: install
	bash scripts/services.sh ensure
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(MONGO_VENV) .tools .pytest_cache .mypy_cache .ruff_cache

# Deployment (chart, k8s, image lint) and observability targets live beside this file.
-include mk/*.mk
tools::
