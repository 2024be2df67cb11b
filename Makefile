# Quick start: `make run` (the product on its embedded defaults), `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed

.PHONY: run test lint format install migrate worker web messages screenshots bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

# A local .env with DEBUG on and a random SECRET_KEY, written once; edit it freely.
.env:
	@printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "Wrote .env (DEBUG=true, random SECRET_KEY). See .env.example for every setting."

migrate: $(INSTALLED) .env
	$(PY) manage.py migrate --noinput

# Web server on 127.0.0.1:8000 and one worker on the embedded broker; Ctrl-C stops both.
# The admin login is printed again once both are up, below the worker's banner; it goes to
# print_when_up on its standard input (never an argument, a file or the environment).
RUN_ADDRESS ?= 127.0.0.1:8000
RUN_PIDFILE := var/run-worker.pid
run: migrate
	@demo=$$($(PY) manage.py load_demo_data) || exit $$?; printf '%s\n' "$$demo"; \
	login=$$(printf '%s\n' "$$demo" | grep '^Admin login:'); \
	echo "Starting the worker and the web server on http://$(RUN_ADDRESS)/admin/ (Ctrl-C stops both)"; \
	mkdir -p var; rm -f $(RUN_PIDFILE); \
	$(BIN)/celery -A tkassalam worker --beat --loglevel=INFO --concurrency=2 --pidfile=$(RUN_PIDFILE) & worker=$$!; \
	printf '%s\n' "$$login" | $(PY) manage.py print_when_up --address=$(RUN_ADDRESS) --pidfile=$(RUN_PIDFILE) & waiter=$$!; \
	trap 'kill $$waiter $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(RUN_ADDRESS)

# Lint, then the suite on SQLite + the embedded broker, then again on each server this
# machine runs (PostgreSQL, MariaDB, Redis); see tests/matrix.py. pytest's exit 5 (no
# tests collected) passes the SQLite row only: a server row that collects nothing fails.
# TEST_MATRIX=sqlite runs the first row only.
test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run --settings=tkassalam.settings.test
	$(PY) tests/matrix.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refresh the Indonesian catalog after changing interface text; the compiled .mo is
# committed so that a fresh machine needs no gettext tools.
messages: $(INSTALLED)
	$(PY) manage.py makemessages -l id --no-location --ignore=tests --ignore=var --ignore=.venv --settings=tkassalam.settings.test
	msgfmt --check -o tkassalam/locale/id/LC_MESSAGES/django.mo tkassalam/locale/id/LC_MESSAGES/django.po

# Benchmarks (bench/README.md): PostgreSQL + Redis when they answer, else SQLite + the
# embedded broker; prints the table and writes bench/results/latest.md. Not part of make test.
# Take the staff manual's screenshots again (docs/screenshots/, Chromium needed). make test
# skips test_admin_screenshots.py and runs the other three without writing pictures.
screenshots: $(INSTALLED)
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest tests/e2e/test_admin_screenshots.py \
		tests/e2e/test_admin_opened_browser.py tests/e2e/test_parent_page_browser.py \
		tests/e2e/test_zip_upload_browser.py -q -p no:cacheprovider
	command -v optipng >/dev/null && optipng -quiet -o2 docs/screenshots/*.png || true

bench: $(INSTALLED)
	$(PY) bench/run.py --out bench/results/latest.md

worker: $(INSTALLED) .env
	$(BIN)/celery -A tkassalam worker --loglevel=INFO

web: $(INSTALLED) .env
	$(PY) manage.py runserver 127.0.0.1:8000

clean:
	rm -rf var/ .pytest_cache .ruff_cache
