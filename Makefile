# The README's commands. `make run` and `make test` install what they need first.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Django 6 needs Python 3.12 or newer: take the first interpreter that is new enough.
PYTHON ?= $(shell bin/find-python)
PORT ?= 8000

.PHONY: install run test lint lock bench screenshots clean

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

# The exact versions (with the hashes of their files) the Docker image installs, resolved from pyproject.toml for
# the image's Python on Linux. After changing the dependencies: make lock, and commit requirements.lock. It keeps
# what is locked where pyproject.toml still allows it; `make lock LOCK_ARGS=--upgrade` takes the newest of all.
lock: install
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.13 --python-platform linux \
		--custom-compile-command "make lock" --output-file requirements.lock $(LOCK_ARGS)

bench: install
	@for b in bench/[!_]*.py; do [ -e "$$b" ] || continue; $(BIN)/python "$$b" || exit 1; done

# docs/screenshots/: every dashboard page at 1400x900, from demo data in a scratch database (needs chromium and
# chromium-driver; tests/browser/screenshots.py lists the pages).
screenshots: install
	$(BIN)/python -m tests.browser.screenshots

clean:
	rm -rf $(VENV) var staticfiles
