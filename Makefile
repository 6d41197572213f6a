# framestate: `make run` serves on 127.0.0.1:8000 with SQLite, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
CLIENT := clients/typescript

.DEFAULT_GOAL := help
.PHONY: help install browser client-install client-schema run demo migrate test lint format diagram docs screenshot bench bench-notify bench-big property-deep fuzz-deep clean

help: ## list the targets
	@awk -v host='$(HOST)' -v port='$(PORT)' 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / { \
	  gsub(/\$$\(HOST\)/, host, $$2); gsub(/\$$\(PORT\)/, port, $$2); printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install framestate with its test tools (pinned)

run: install ## migrate the database and serve the API on $(HOST):$(PORT) (SQLite under ./var/ by default)
	$(BIN)/framestate serve --host $(HOST) --port $(PORT)

demo: install ## with `make run` serving: projects in every status and exports running on it, until Ctrl-C
	$(BIN)/framestate demo --url http://$(HOST):$(PORT)

migrate: install ## apply pending migrations and exit
	$(BIN)/framestate migrate

browser: ## install Debian's Chromium for the browser test, where it is missing and can be installed
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "could not install chromium: the browser test will say so"; \
	  else echo "chromium is missing and cannot be installed here: the browser test will say so"; fi; }

client-install: ## install the TypeScript client's Node packages from its lockfile (npm ci) where Node is installed
	@if command -v node >/dev/null 2>&1; then \
	  if [ $(CLIENT)/node_modules/.package-lock.json -nt $(CLIENT)/package-lock.json ] \
	    && [ $(CLIENT)/node_modules/.package-lock.json -nt $(CLIENT)/package.json ]; then :; \
	  else echo "npm ci in $(CLIENT)"; cd $(CLIENT) && npm ci --no-audit --no-fund --loglevel=error; fi; \
	elif [ "$$CI" = true ]; then \
	  echo "node is not installed: in CI the TypeScript client's tests ($(CLIENT)) must run" >&2; exit 1; \
	else echo "node is not installed: the TypeScript client's tests ($(CLIENT)) will be skipped"; fi

client-schema: install client-install ## regenerate clients/typescript/src/schema.ts from a fresh service's OpenAPI document (or SERVICE_URL's)
	cd $(CLIENT) && node scripts/schema.mjs $(if $(SERVICE_URL),$(SERVICE_URL),--serve ../../$(BIN)/framestate)

test: install browser client-install ## run every test: SQLite always, PostgreSQL at 127.0.0.1:5432 when it answers (required when CI=true)
	$(BIN)/python -m pytest -n 2

lint: install ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## let ruff fix imports and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

diagram: install ## print the state diagram (Mermaid) generated from the machine
	@$(BIN)/framestate diagram

docs: install ## regenerate docs/state-machine.md from the transition table
	$(BIN)/framestate diagram --markdown > docs/state-machine.md

screenshot: install browser ## run the browser tests and save the board and the inspector mid-export (docs/board.png, docs/inspector.png)
	FRAMESTATE_SCREENSHOT=docs/board.png FRAMESTATE_INSPECTOR_SCREENSHOT=docs/inspector.png $(BIN)/python -m pytest tests/browser -q

bench: install ## framestate against a bare baseline on SQLite and PostgreSQL (wrk); rewrites docs/benchmarks.md
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's wrk for the benchmark"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is missing and cannot be installed here (Debian: apt-get install wrk)"; exit 1; fi; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-notify: install ## what pg_notify costs PostgreSQL's commits, at 1, 8, 32 and 64 writers (the local PostgreSQL)
	$(BIN)/python -m bench.notify_probe

bench-big: install ## hot reads on 10 million projects, and each table's bytes a row (the local PostgreSQL; about 10 minutes and 9 GiB of disk while it runs)
	$(BIN)/python -m bench.big_table $(BENCH_ARGS)

property-deep: install ## the stateful property test of the API, 500 examples a database (about 15 minutes)
	FRAMESTATE_PROPERTY_EXAMPLES=$${FRAMESTATE_PROPERTY_EXAMPLES:-500} $(BIN)/python -m pytest tests/property -q --timeout 0

fuzz-deep: install ## the hostile-bytes fuzz test, 2000 examples a test and database (FRAMESTATE_FUZZ_EXAMPLES)
	FRAMESTATE_FUZZ_EXAMPLES=$${FRAMESTATE_FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest tests/hardening/test_fuzz.py -q --timeout 0

clean: ## remove the virtual environment, caches and the local SQLite database
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info $(CLIENT)/node_modules $(CLIENT)/dist
