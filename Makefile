# Two commands do all set-up: `make chat` (install + talk to the bot in this terminal)
# and `make test` (install + run every check). `make run` starts the Telegram bot.
VENV ?= .venv
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
	$(PY) -m bot check-flows
	$(PY) -m pytest -q

.PHONY: install chat run test
