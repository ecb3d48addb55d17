# Every target sets up what it needs from a fresh Debian machine with Python, pip and apt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPORT := build/test-report.xml
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help setup system-deps test check lint typecheck layers pytest crd clean demo e2e

help:
	@echo "make test   - set up the virtualenv, then ruff, mypy --strict, import layers and pytest"
	@echo "make crd    - regenerate config/crd from the models"
	@echo "make demo   - install the servers if missing, set up, run the healthy demo (DEMO_ARGS=\"--scenario memory-leak\")"
	@echo "make e2e    - every demo scenario end to end (about 5 minutes)"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# Debian packages for the sandbox and the tests: prometheus, haproxy, postgresql, postgres_exporter.
system-deps:
	scripts/install-system-deps.sh

test: system-deps check pytest

check: lint typecheck layers

lint: setup
	$(BIN)/ruff check controller tests

typecheck: setup
	$(BIN)/mypy

layers: setup
	$(BIN)/lint-imports

pytest: setup
	mkdir -p build
	$(BIN)/pytest --junitxml=$(REPORT) $(PYTEST_ARGS)

# A rollout on the local sandbox; pass e.g. DEMO_ARGS="--scenario memory-leak --json build/demo.json".
demo: system-deps setup
	$(BIN)/greenlane demo $(DEMO_ARGS)

e2e: system-deps setup
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

crd: setup
	$(BIN)/greenlane crd > config/crd/bluegreenrollouts.greenlane.dev.yaml

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
