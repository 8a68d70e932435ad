# The common commands. `make run` and `make test` do their own set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs the runtime dependencies only; `make test` (and lint,
# format) add the `dev` extras (pytest, hypothesis, playwright, ruff ...).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_WORKERS ?= 2
WEB_THREADS ?= 4

.PHONY: run test services install install-dev lint format bench clean-data

# An editable install: a .pth file puts the project folder on the venv's path (see
# [tool.setuptools] package-dir in pyproject.toml), so edits need no reinstall.
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

## Web + projection runner on the embedded default (SQLite, no Redis), demo thread loaded.
run: $(RUN_STAMP)
	$(BIN)/discuss init-db
	$(BIN)/discuss load-demo
	$(BIN)/discuss catch-up
	@echo "Open http://$(HOST):$(PORT)/  (API: http://$(HOST):$(PORT)/api/v1/threads)"
	$(BIN)/gunicorn --workers $(WEB_WORKERS) --threads $(WEB_THREADS) --bind $(HOST):$(PORT) \
		--access-logfile - 'web.wsgi:app'

## The whole test suite (PostgreSQL and Redis on 127.0.0.1, Debian's chromium): `services`
## first installs or starts what is missing, or stops at once saying what to run.
test: services $(DEV_STAMP)
	$(BIN)/pytest

## What the tests need besides the venv (.ci/run runs it too): scripts/test-services.
services:
	@bash scripts/test-services

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format .

clean-data:
	rm -rf var/
