# framestate: `make run` serves on 127.0.0.1:8000 with SQLite, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run migrate test lint format diagram clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install framestate with its test tools (pinned)

run: install ## migrate the database and serve the API on $(HOST):$(PORT) (SQLite under ./var/ by default)
	$(BIN)/framestate serve --host $(HOST) --port $(PORT)

migrate: install ## apply pending migrations and exit
	$(BIN)/framestate migrate

test: install ## run every test: SQLite always, PostgreSQL at 127.0.0.1:5432 when it answers (required when CI=true)
	$(BIN)/python -m pytest

lint: install ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## let ruff fix imports and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

diagram: install ## print the state diagram (Mermaid) generated from the machine
	@$(BIN)/framestate diagram

clean: ## remove the virtual environment, caches and the local SQLite database
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
