# Every target sets up what it needs from a fresh Debian machine with Python, pip and apt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPORT := build/test-report.xml
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ROLLOUTS ?= 100
BENCH_JUDGEMENT ?= 1
BENCH_HEALTHY ?= 50
BENCH_FAULTY ?= 20
BENCH_WORKERS ?= 3
FUZZ_EXAMPLES ?= 20000

.PHONY: help setup system-deps test check lint typecheck layers pytest crd clean demo e2e bench bench-judgement bench-scale bench-soak fuzz

help:
	@echo "make test   - set up the virtualenv, then ruff, mypy --strict, import layers and pytest"
	@echo "make crd    - regenerate config/crd from the models"
	@echo "make demo   - install the servers if missing, set up, run the healthy demo (DEMO_ARGS=\"--scenario memory-leak\");"
	@echo "              ends with a one-screen summary and the migration report's path"
	@echo "make e2e    - every demo scenario end to end (about 5 minutes)"
	@echo "make bench  - print core, operator (100 rollouts) and judgement figures (BENCH_JUDGEMENT=0 skips judgement)"
	@echo "make bench-judgement - false rollbacks and detection over whole simulated rollouts at 20 and 200 req/s"
	@echo "make bench-scale - fleet figures at 100/1,000/10,000 rollouts, shard takeover, churn (about 15 minutes)"
	@echo "make bench-soak  - RSS, /metrics series and cache objects over SOAK_MINUTES (15) of create/delete churn"
	@echo "make fuzz   - the loader/validator fuzz and the validate-vs-CRD agreement tests with FUZZ_EXAMPLES (20000) random examples each"

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

# A rollout on the local sandbox, shown live on a terminal (change-only lines when piped); ends with a one-screen
# summary (outcome, 3.12 vs 3.11 headline, every check, load) and the migration report's path, build/report/demo-*.html.
# Pass e.g. DEMO_ARGS="--scenario memory-leak --json build/demo.json" (--verbose adds the sandbox's log lines).
demo: system-deps setup
	$(BIN)/greenlane demo $(DEMO_ARGS)

e2e: system-deps setup
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

# Figures, not assertions: decide() throughput, reconcile duration and controller memory with
# BENCH_ROLLOUTS rollouts in the emulator (5–8 minutes on 2 cores), then the judgement bench (BENCH_JUDGEMENT=0
# skips it).
bench: system-deps setup
	$(BIN)/python -m tests.bench.core
	$(BIN)/python -m tests.bench.operator --rollouts $(BENCH_ROLLOUTS)
	if [ "$(BENCH_JUDGEMENT)" != 0 ]; then $(MAKE) bench-judgement; fi

# Whole simulated rollouts of the README's example, backfilled into a real Prometheus and walked evaluation by
# evaluation with the operator's analysis and core: false rollbacks of BENCH_HEALTHY healthy greens and detection
# of BENCH_FAULTY regressions of each kind, at 20 and 200 req/s. Prints a table; asserts nothing.
bench-judgement: system-deps setup
	$(BIN)/python -m tests.bench.judgement --healthy $(BENCH_HEALTHY) --faulty $(BENCH_FAULTY) --workers $(BENCH_WORKERS)

# Fleet scale (issue 15): the real `greenlane run` against a fast fake API server and a counting Prometheus
# stand-in at 100, 1,000 and 10,000 rollouts, takeover with 2 and 4 shards, RSS over churn. Figures, not a
# test; run it alone on the machine. SCALE_ARGS="--sizes 100,1000" etc.
SCALE_ARGS ?=
bench-scale: setup
	$(BIN)/python -m tests.bench.scale $(SCALE_ARGS)

# Churn soak (issue 15, bounded memory): 1,000 standing rollouts, then batches of 100 created and deleted ten
# batches later (with their Deployments, ReplicaSets and routes) for SOAK_MINUTES; prints RSS, /metrics series
# and cache objects per cycle, first/last quartile means and the second half's slope per 1,000 rollouts churned.
# SOAK_ARGS="--memory-snapshots" adds tracemalloc and live-object diffs from the operator. Run it alone.
SOAK_MINUTES ?= 15
SOAK_ARGS ?=
bench-soak: setup
	$(BIN)/python -m tests.bench.scale --sizes '' --shards '' --soak-minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# The property tests of tests/security and tests/model/test_bounds_agree.py run derandomised with ~100 examples in
# `make test`; this runs them with random seeds and FUZZ_EXAMPLES examples per property (about 20 minutes at 20000).
fuzz: setup
	GREENLANE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/security/test_fuzz.py tests/model/test_bounds_agree.py $(PYTEST_ARGS)

crd: setup
	$(BIN)/greenlane crd > config/crd/bluegreenrollouts.greenlane.dev.yaml

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
