# dsr-bot: `make demo` (install + run the demo), `make test` (install + lint + types + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-test sysdeps test lint demo run bench bench-cli clean

$(BIN)/pip:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	@$(BIN)/pip install -q --upgrade pip

# Stamps: pip runs again only when pyproject.toml changed (the install is editable, so code
# changes need no reinstall).
$(VENV)/.installed: pyproject.toml | $(BIN)/pip
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/pip
	$(BIN)/pip install -q -e ".[test]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# The tests start their own Dovecot and PostgreSQL and drive Debian's chromium (auditor pages);
# they need the binaries. As root we install them; otherwise the tests that need them skip (or
# fail under DSR_REQUIRE_SERVERS=1).
sysdeps:
	@if command -v dovecot >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    dovecot-imapd postgresql chromium chromium-driver; \
	else echo "note: dovecot-imapd, postgresql or chromium is missing and we are not root; their tests will skip"; fi

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: sysdeps lint
	$(BIN)/pytest

demo: install
	$(BIN)/dsr demo

# The embedded default from a fresh clone: the case store, the reference customer store, the desk.
run: install
	$(BIN)/dsr db upgrade
	$(BIN)/dsr store init
	$(BIN)/dsr run

bench: install-test sysdeps
	taskset -c 0 $(BIN)/python tests/bench/bench_audit.py
	taskset -c 0 $(BIN)/python tests/bench/bench_web.py

bench-cli: install-test sysdeps
	$(BIN)/python tests/bench/bench_cli.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
