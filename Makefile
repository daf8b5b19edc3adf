# Tech_ticket — `make run` serves the site, `make test` runs the whole suite.
# Every target installs what it needs; nothing has to be set up by hand first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Local commands run in debug mode unless DEBUG is set (DEBUG=0 then needs SECRET_KEY).
MANAGE := DEBUG=$${DEBUG:-1} $(PY) manage.py
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help run install install-dev assets migrate messages static demo serve test fuzz lint bench \
	stress audit \
	bench-smoke \
	format check-deploy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else "Python 3.13 is required (found %s); see .python-version." % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.installed assets messages ## Virtual environment, Python and front-end packages

install-dev: $(VENV)/.installed-dev assets messages ## The same plus test and lint tools

assets: node_modules/.package-lock.json

messages: $(VENV)/.installed ## Compile the translations in locale/
	@$(MANAGE) compilemessages --ignore='.venv/*' --ignore='node_modules/*' -v 0

migrate: install ## Apply database migrations
	$(MANAGE) migrate --no-input

static: install ## Collect static files (only needed with DEBUG=0)
	$(MANAGE) collectstatic --no-input -v 0

demo: migrate ## Create one demo account per role on an empty database
	$(MANAGE) seed_demo

run: demo ## Install, migrate, create demo accounts and serve on http://127.0.0.1:$(PORT)
	@if [ "$${DEBUG:-1}" = "0" ]; then \
		$(MAKE) --no-print-directory static && \
		echo "Serving with gunicorn on http://127.0.0.1:$(PORT) (DEBUG=0)" && \
		$(BIN)/gunicorn techticket.wsgi --bind 127.0.0.1:$(PORT) --workers 2 \
			--access-logfile - ; \
	else \
		DEBUG=1 $(MANAGE) runserver 127.0.0.1:$(PORT); \
	fi

test: install-dev ## Run the whole test suite with coverage (the stress runs: make stress)
	$(BIN)/pytest --cov --cov-report=term -m "not stress" $(PYTEST_ARGS)

# Load and fault runs against gunicorn (tests/stress, scripts/stress.py): SQLite, and PostgreSQL
# too when STRESS_DATABASE_URL names a database to derive throwaway ones from.
stress: install-dev ## Load (16 clients, STRESS_SECONDS=60) and fault runs (kill -9, full disk)
	STRESS_SECONDS=$${STRESS_SECONDS:-60} $(BIN)/pytest -m stress -s -v -rs tests/stress $(PYTEST_ARGS)

audit: install-dev ## Security scans: bandit, pip-audit, npm audit (docs/security-scans.md)
	scripts/security_scan.sh

# The benchmark runs like production: DEBUG=0, static files collected, a throwaway SECRET_KEY
# unless one is set.
BENCH_ENV = DEBUG=0 SECRET_KEY=$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}

bench: install ## The benchmark of SPEC §9 on the configured database (seeds it if empty)
	$(BENCH_ENV) $(PY) manage.py collectstatic --no-input -v 0
	$(BENCH_ENV) $(PY) -m bench.run

bench-smoke: install ## The benchmark on 20,000 tickets in a throwaway SQLite database
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	export $(BENCH_ENV) DATABASE_URL="sqlite:///$$dir/bench.sqlite3" MEDIA_ROOT="$$dir/media" \
		LOG_DIR="$$dir/logs" BENCH_TICKETS=20000 BENCH_RUNS=3 BENCH_WARMUP=1 \
		BENCH_LOAD_SECONDS=2 BENCH_WRITE=0; \
	$(PY) manage.py collectstatic --no-input -v 0 && $(PY) -m bench.run

fuzz: install-dev ## Schema fuzz run of the API (schemathesis) on a throwaway server and database
	scripts/schema_fuzz.sh

lint: install-dev ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-deploy: install ## Django's deployment checks with production-like settings
	DEBUG=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
		SECURE_SSL_REDIRECT=1 ALLOWED_HOSTS=desk.example.com \
		$(PY) manage.py check --deploy --fail-level WARNING

clean: ## Remove installed packages and generated files (keeps the database and uploads)
	rm -rf $(VENV) node_modules staticfiles .pytest-logs .pytest-uploads .coverage htmlcov
