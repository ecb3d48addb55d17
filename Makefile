# Every target sets up what it needs from a fresh Debian machine with Python, pip and apt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPORT := build/test-report.xml
PYTEST_ARGS ?=

.PHONY: help setup system-deps test check lint typecheck layers pytest crd clean

help:
	@echo "make test   - set up the virtualenv, then ruff, mypy --strict, import layers and pytest"
	@echo "make crd    - regenerate config/crd from the models"

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

crd: setup
	$(BIN)/greenlane crd > config/crd/bluegreenrollouts.greenlane.dev.yaml

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
