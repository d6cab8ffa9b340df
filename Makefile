# Two user-facing targets: `make demo` and `make test`. Each bootstraps .venv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz lint imports typecheck pytest bench venv clean services services-if-possible chromium

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
	$(PY) -m mypy --strict cti tests benchmarks

# The import contracts of pyproject.toml ([tool.importlinter]).
IMPORT_CONTRACTS := pure-core-no-io pure-core-no-adapter pure-store-models layers
imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-logo --no-cache $(addprefix --contract ,$(IMPORT_CONTRACTS))

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint imports typecheck chromium services-if-possible pytest

# Wider fuzzing, not part of CI: every property test with CTI_FUZZ_FACTOR (20) times the examples,
# random (not derandomized), failures kept in .hypothesis/ and replayed first on the next run.
fuzz: $(STAMP) services-if-possible
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider -k "not browser" $(PYTEST_ARGS)

# make test starts PostgreSQL/Redis when they are installed but down; without them the tests that need
# them skip (or fail, under CTI_REQUIRE_SERVICES=1 as in CI).
services-if-possible:
	-@bash .ci/services

# Browser tests drive Debian's Chromium; never a downloaded browser.
chromium:
	@bash .ci/chromium

services:
	bash .ci/services

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
