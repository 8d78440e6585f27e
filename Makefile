# idnode developer entry points.  `make run` and `make test` work on a fresh
# machine with nothing but Python 3.11: they create .venv and install into it
# exactly the versions locked in requirements/*.lock (with hashes).
#
# Refresh the locks with `make lock` (newest releases allowed by setup.cfg);
# `make test-latest` runs the suite against the newest releases without the
# lock, in .venv-latest, so drift is seen before it reaches the lock.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= idnode-data
PYTEST_ARGS ?=
PIP    := $(BIN)/python -m pip -qq --disable-pip-version-check
PIP_TOOLS_VERSION := 7.7.0
COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --upgrade

.PHONY: run test lint pytest bench bench-quick fuzz lock test-latest clean

$(BIN)/python: requirements/build.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements/build.lock
	touch $@

$(VENV)/.installed-run: requirements/run.lock setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) install --require-hashes --no-deps -r requirements/run.lock
	$(PIP) install --no-deps --no-build-isolation -C editable_mode=compat -e .
	touch $@

$(VENV)/.installed-dev: requirements/dev.lock setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) install --require-hashes --no-deps -r requirements/dev.lock
	$(PIP) install --no-deps --no-build-isolation -C editable_mode=compat -e .
	touch $@ $(VENV)/.installed-run

# The demo node listens on 127.0.0.1 only; REST credentials over its plain HTTP are
# accepted there (IDNODE_HTTP_INSECURE_AUTH) so the printed curl write works.
run: $(VENV)/.installed-run
	@$(BIN)/idnode --data-dir $(DATA) init --demo --if-missing
	@IDNODE_HTTP_INSECURE_AUTH=true $(BIN)/idnode --data-dir $(DATA) serve --welcome

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

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

lock: | $(BIN)/python
	$(PIP) install pip-tools==$(PIP_TOOLS_VERSION)
	$(COMPILE) --output-file requirements/build.lock requirements/build.in
	$(COMPILE) --extra postgres --output-file requirements/run.lock setup.cfg
	$(COMPILE) --extra postgres --extra dev --extra bench --output-file requirements/dev.lock setup.cfg

test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip --quiet install --upgrade pip setuptools wheel
	.venv-latest/bin/python -m pip --quiet install --upgrade -e '.[dev,postgres,bench]'
	.venv-latest/bin/python -m pip freeze --exclude-editable > .venv-latest/versions.txt
	.venv-latest/bin/ruff check .
	.venv-latest/bin/mypy
	.venv-latest/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-latest build *.egg-info .pytest_cache .mypy_cache .ruff_cache
