# Two user-facing targets: `make demo` and `make test`. Each bootstraps .venv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Checked with mypy --strict: the pure core (no I/O), the pure models of the store and simulator,
# and the AMI client edge.
CORE := cti/core cti/asterisk/ami.py cti/asterisk/snapshot.py cti/asterisk/translate.py cti/asterisk/calls.py cti/asterisk/tracker \
	cti/reports/metrics.py cti/routing \
	cti/store/phones.py cti/store/tiers.py cti/store/callrecords.py cti/store/demo_data.py \
	cti/screenpop/protocol.py cti/screenpop/tokens.py cti/screenpop/live.py cti/bus/codec.py \
	cti/sim/timeline.py cti/sim/channels.py cti/sim/pbx.py cti/sim/queues.py cti/sim/agents.py \
	cti/sim/pstn.py cti/sim/callers.py cti/sim/scenario.py \
	cti/asterisk/client.py cti/asterisk/connection.py cti/asterisk/pump.py

.PHONY: demo test lint typecheck pytest bench venv clean services services-if-possible chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m cti demo

lint: $(STAMP)
	$(PY) -m ruff check cti tests benchmarks
	$(PY) -m ruff format --check cti tests benchmarks

typecheck: $(STAMP)
	$(PY) -m mypy --strict $(wildcard $(CORE))

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck chromium services-if-possible pytest

# make test starts PostgreSQL/Redis when they are installed but down; without them the tests that need
# them skip (or fail, under CTI_REQUIRE_SERVICES=1 as in CI).
services-if-possible:
	-@bash .ci/services

# Browser tests drive Debian's Chromium; never a downloaded browser.
chromium:
	@test -x /usr/bin/chromium || bash .ci/chromium

services:
	bash .ci/services

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
