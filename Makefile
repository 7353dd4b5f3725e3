# Two commands do all set-up: `make chat` (install + talk to the bot in this terminal)
# and `make test` (install + run every check, as CI does). `make quick` runs the tests not
# marked slow (no real processes, crashes, hostile input or benchmark) in well under a minute.
# `make run` starts the Telegram bot.
VENV ?= .venv
# Keep compiled modules between runs (some shells turn that off): collecting the tests takes
# ~2 s instead of ~12 s, and every bot process the tests start loads faster too.
unexport PYTHONDONTWRITEBYTECODE
PY := $(VENV)/bin/python

# Installs exactly the versions in requirements.lock (`make lock` remakes it from pyproject.toml).
$(VENV)/.installed: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

chat: $(VENV)/.installed
	$(PY) -m bot chat

run: $(VENV)/.installed
	$(PY) -m bot run

test: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m bot check-flows
	$(PY) -m pytest -q

quick: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

# Pin every dependency (runtime and dev) at its newest allowed version; commit the result.
lock: $(VENV)/.installed
	$(VENV)/bin/pip-compile -q --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml

.PHONY: install chat run test quick lock
