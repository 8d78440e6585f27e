# idnode developer entry points.  `make run` and `make test` work on a fresh
# machine with nothing but Python 3.11: they create .venv and install into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= idnode-data
PYTEST_ARGS ?=

.PHONY: run test lint pytest bench bench-quick fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-run: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,bench]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/idnode --data-dir $(DATA) init --demo --if-missing
	$(BIN)/idnode --data-dir $(DATA) serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run

bench-quick: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run --quick

FUZZ_SECONDS ?= 300
fuzz: $(VENV)/.installed-dev
	$(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
