# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: install run test browser postgres bench lint clean

$(BIN)/midlist: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/midlist

# Set up, write a starter config if there is none, and run one collect + digest cycle.
run: install
	test -f $(CONFIG) || $(BIN)/midlist --config $(CONFIG) init
	$(BIN)/midlist --config $(CONFIG) run --once

# Set up (including headless Chromium for the email screenshot tests and a PostgreSQL server
# binary for the store tests), run the linters and type checker, then every test.
test: install browser postgres lint
	$(BIN)/pytest

# Debian's chromium renders the HTML digest in tests; installing it needs root (as in CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install Debian's chromium for the browser tests (they are skipped without it)"; fi; }

# Debian's postgresql: the tests start their own server from it (initdb in a temp dir, as the
# `postgres` user when root); without it the PostgreSQL half of the tests is skipped.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	  else echo "note: install Debian's postgresql for the PostgreSQL tests (they are skipped without it)"; fi; }

bench: install
	$(BIN)/python bench/import_speed.py
	$(BIN)/python bench/ranking.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/tune_speed.py
	$(BIN)/python bench/classics.py

# ruff for style, mypy for types: strict on the pure packages, the default checks on bot/.
lint: install
	$(BIN)/ruff check bot sources ranking tests bench
	$(BIN)/ruff format --check bot sources ranking tests bench
	$(BIN)/mypy --strict sources ranking
	$(BIN)/mypy bot

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
