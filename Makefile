# dora-assets: `make run` and `make test` set everything up themselves (a .venv of their own).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-faults test-time-travel dev screenshots chromium faketime lint format clean bench detection-delays

$(BIN)/python:
	$(shell command -v $(PYTHON) || command -v python3) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.py pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Our modules' bytecode, written ahead: where PYTHONDONTWRITEBYTECODE is set (as on CI machines),
# every `dora-assets` process would otherwise compile the whole package again (0.1-0.15 s each; the
# suite starts about 250 of them). A stale file is only ignored: Python checks the source's mtime.
BYTECODE = $(BIN)/python -m compileall -q dora_assets dora_assets_tests bench

## run: set up, generate demo data if data/landing is empty, refresh, print the DORA metrics
run: $(STAMP)
	@$(BYTECODE)
	$(BIN)/dora-assets demo --if-empty
	$(BIN)/dora-assets refresh

# Debian's Chromium, for the tests and screenshots that look at pages as a user does.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# Where the tests' files go: a RAM-backed folder when the machine has one. The files are the same
# real DuckDB, SQLite and landing files; only fsync is free. The Dagster instance's SQLite event log
# syncs every event to disk, which on a disk took about half of the suite's time (a first refresh:
# 28 s on disk, 14 s in /dev/shm). Tests that need a real full disk mount their own small tmpfs.
TEST_TMP ?= $(if $(wildcard /dev/shm/.),/dev/shm/dora-assets-tests-$(shell id -u),$(CURDIR)/.pytest-tmp)
PYTEST := rm -rf $(TEST_TMP)/tmp && mkdir -p $(TEST_TMP)/tmp && TMPDIR=$(TEST_TMP)/tmp $(BIN)/python -m pytest --basetemp=$(TEST_TMP)/base

# Test workers: twice the cores. Most slow tests spend their time waiting on the processes they
# start (the dora-assets command, dagster dev, servers, sensor ticks): with one worker per core the
# load average of a full run stayed near 1.4 on 2 cores.
TEST_WORKERS ?= $(shell echo $$(( 2 * $$(nproc) )))

## test: set up and run the whole test suite
test: $(STAMP) chromium
	@$(BYTECODE)
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup -m "not every_boundary" --durations=40 dora_assets_tests

## test-fast: the quick loop while editing (under 2 minutes on 2 cores): everything but the tests
## marked slow, browser or postgres (pyproject.toml); `make test` and CI still run every test
test-fast: $(STAMP)
	@$(BYTECODE)
	$(PYTEST) -n auto --dist loadfile -m "not slow and not browser and not postgres and not every_boundary" dora_assets_tests

## test-faults: the self-healing refresh killed at every stage boundary of its two runs (16), not
## only the six that `make test` covers
test-faults: $(STAMP)
	$(PYTEST) -n auto --dist load dora_assets_tests/test_refresh_heals.py

# Debian's faketime (libfaketime), for the time-travel run.
faketime:
	@command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq faketime >/dev/null; }

## test-time-travel: the suite with the clock a year ahead, then a year back (every process the
## tests start included), so that no test passes only near the day it was written. Tests marked
## real_clock are left out (see pyproject.toml). SHARD=K/N runs one slice of it (CI runs a
## different eighth each day); a full run takes about twice as long as `make test`.
CLOCK_SHIFTS ?= +365d -365d
SHARD ?=
test-time-travel: $(STAMP) chromium faketime
	@for shift in $(CLOCK_SHIFTS); do \
	  echo "test-time-travel: the clock moved $$shift"; \
	  mkdir -p $(TEST_TMP)/tmp && TMPDIR=$(TEST_TMP)/tmp faketime -f "$$shift" $(BIN)/python -m pytest \
	    --basetemp=$(TEST_TMP)/base -n auto --dist loadgroup -m "not real_clock and not every_boundary" \
	    $(if $(SHARD),--shard $(SHARD)) dora_assets_tests || exit 1; \
	done

## dev: open the Dagster UI (webserver + daemon) on the same instance as the CLI
dev: $(STAMP)
	$(BIN)/dora-assets dev

## screenshots: photograph a failed check in a real dagster-webserver (headless Chromium) into docs/
screenshots: $(STAMP) chromium
	$(BIN)/python docs/capture_screenshots.py

## bench: the performance benchmark (bench/README.md): 10k, 100k and 1M deliveries by default,
## or e.g. `make bench SIZES=10k,100k`; results in bench/results/latest.json
SIZES ?= 10k,100k,1M
bench: $(STAMP)
	$(BIN)/python bench/run.py --sizes $(SIZES)

## detection-delays: how long each kind of gap goes unflagged, by the key's normal rate (README,
## "How gaps are surfaced"); e.g. `make detection-delays RATES=5,50`
RATES ?= 1,5,20,100
detection-delays: $(STAMP)
	$(BIN)/python bench/detection_delays.py --rates $(RATES)

## lint: ruff (Python), sqlfluff (every sql/*.sql, DuckDB dialect: .sqlfluff), and `dg check defs`
## (the definitions load as Dagster's own tools load them)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dora_assets bench
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dg check defs

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) *.egg-info
