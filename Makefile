# The common commands. `make run` and `make test` do their own set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_WORKERS ?= 2

.PHONY: run test services install lint format bench clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

## Web + projection runner on the embedded default (SQLite, no Redis), demo thread loaded.
run: $(STAMP)
	$(BIN)/discuss init-db
	$(BIN)/discuss load-demo
	$(BIN)/discuss catch-up
	@echo "Open http://$(HOST):$(PORT)/  (API: http://$(HOST):$(PORT)/api/v1/threads)"
	$(BIN)/gunicorn --workers $(WEB_WORKERS) --threads 4 --bind $(HOST):$(PORT) \
		--access-logfile - 'web.wsgi:app'

## The whole test suite (PostgreSQL and Redis on 127.0.0.1, Debian's chromium): `services`
## first installs or starts what is missing, or stops at once saying what to run.
test: services $(STAMP)
	$(BIN)/pytest

## What the tests need besides the venv (.ci/run runs it too): scripts/test-services.
services:
	@bash scripts/test-services

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .

clean-data:
	rm -rf var/
