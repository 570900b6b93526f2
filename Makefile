PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.toml

.PHONY: install run test lint typecheck pytest bench soak crash clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/smsops --config $(CONFIG) db upgrade
	$(BIN)/smsops --config $(CONFIG) contacts import examples/contacts.csv
	$(BIN)/smsops --config $(CONFIG) serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# pytest exits 5 when it collects no tests: that is a failure too, and said so.
pytest: install
	@$(BIN)/pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; fi; \
	exit $$rc

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench

# 30 minutes of mixed load on 127.0.0.1; fails unless memory and fds are flat after warm-up.
soak: install
	$(BIN)/python -m bench.soak --minutes 30

# The full crash suite: 10,000 recipients, 20 SIGKILLs of `smsops serve` (make test runs 2,000 and 6).
crash: install
	SMSOPS_CRASH_RECIPIENTS=10000 SMSOPS_CRASH_KILLS=20 $(BIN)/pytest -q -s tests/test_crash.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
