# Two commands do all set-up: `make chat` (install + talk to the bot in this terminal)
# and `make test` (install + run every check, as CI does). `make quick` runs the tests not
# marked slow (no real processes, crashes, hostile input or benchmark) in well under a minute.
# `make run` starts the Telegram bot.
VENV ?= .venv
# Keep compiled modules between runs (some shells turn that off): collecting the tests takes
# ~2 s instead of ~12 s, and every bot process the tests start loads faster too.
unexport PYTHONDONTWRITEBYTECODE
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
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

.PHONY: install chat run test quick
