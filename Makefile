# The README's commands. `make run` and `make test` install what they need first.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Django 6 needs Python 3.12 or newer: take the first interpreter that is new enough.
PYTHON ?= $(shell bin/find-python)
PORT ?= 8000

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python 3.12+ found; set PYTHON=/path/to/python3.12" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	PORT=$(PORT) bin/run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	@for b in bench/[!_]*.py; do [ -e "$$b" ] || continue; $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) var staticfiles
