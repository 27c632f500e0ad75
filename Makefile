# Klaxon: `make run` serves the portal on SQLite; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_ARGS := --organisation "Demo Organisation" --slug demo --admin-email admin@demo.klaxon.test \
             --admin-password klaxon-demo-admin --locations "London,Leeds,Manchester"

.PHONY: run test install migrate bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=true $(PY) manage.py migrate --no-input
	DEBUG=true $(PY) manage.py bootstrap_site $(DEMO_ARGS)
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install
	DEBUG=true $(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var test-artifacts
