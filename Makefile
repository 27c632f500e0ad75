# Klaxon: `make run` serves the portal on SQLite; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_ARGS := --organisation "Demo Organisation" --slug demo --admin-email admin@demo.klaxon.test \
             --admin-password klaxon-demo-admin --locations "London,Leeds,Manchester"

.PHONY: run test test-fast install lock lint bench bench-fallbacks soak clean serve

# Everything installs from requirements.lock (exact versions, with hashes); `make lock`
# refreshes it from pyproject.toml's ranges.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --extra test --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy

install: $(VENV)/.installed

run: export DEBUG = true
run: export KLAXON_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: install
	mkdir -p var && echo "$(KLAXON_PUBLIC_URL)" > var/dev-url && echo "$${DATABASE_URL:-}" > var/dev-database-url
	$(PY) manage.py migrate --no-input
	$(PY) manage.py bootstrap_site $(DEMO_ARGS)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# Production: gunicorn on DATABASE_URL (PostgreSQL; SQLite only with ALLOW_SQLITE=1), after
# migrate and collectstatic. Needs SECRET_KEY, ALLOWED_HOSTS, KLAXON_PUBLIC_URL: docs/deployment.md.
serve: install
	bin/serve

test: install
	DEBUG=true $(PY) -m pytest -q $(PYTEST_ARGS)

# The inner loop: everything but browser, multi-process and property-based tests.
test-fast: install
	DEBUG=true $(PY) -m pytest -q -x -m "not browser and not processes and not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var test-artifacts

bench: install
	bin/with-postgres $(PY) bench/run.py $(BENCH_ARGS)

bench-fallbacks: install
	bin/with-postgres $(PY) bench/fallbacks.py $(BENCH_ARGS)

soak: install
	bin/with-postgres $(PY) bench/soak.py $(SOAK_ARGS)
