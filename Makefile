# Vigie — `make help` lists the commands. Every target is safe to re-run.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
VIGIE := $(VENV)/bin/vigie
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Install system packages (Java, Maven, ClickHouse) and the Python env
$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

up: setup ## Start the local stack (Kafka, ClickHouse, Flink jars) and apply topics
	$(VIGIE) stack up

down: ## Stop the local stack
	$(VIGIE) stack down

status: ## Health, versions, ports and data folders of the stack
	$(VIGIE) stack status

run: setup ## The main job: stack + live pipeline on the simulated city
	$(VIGIE) run

smoke: setup ## Avro records -> Kafka -> PyFlink -> ClickHouse, then counted
	$(VIGIE) smoke

lint: setup ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: setup lint ## Everything CI runs: lint, unit, integration and fault tests on the real stack
	$(VENV)/bin/pytest tests

test-unit: setup ## Only the pure tests (no service started)
	$(VENV)/bin/pytest -m unit tests

bench: setup ## Benchmarks on this machine; results land in bench/results/
	$(VIGIE) bench

.PHONY: help setup up down status run smoke lint test test-unit bench
