PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.toml

.PHONY: install run test lint typecheck pytest bench soak clean

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

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench

# 30 minutes of mixed load on 127.0.0.1; fails unless memory and fds are flat after warm-up.
soak: install
	$(BIN)/python -m bench.soak --minutes 30

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
