# ChainSight: `make run` sets everything up and starts the control tower on the demo trial;
# `make test` runs lint, types and the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := examples/demo-cart-phase1.yaml
DEMO_TRIAL := CART-DEMO
# The demo trial is planned on 2027-01-04: the record's clock starts there and runs.
DEMO_CLOCK := 2027-01-04T09:00:00Z
PYTEST_ARGS ?=

.PHONY: help install run test lint typecheck unit bench lock docs clean

help:
	@echo "make run       create .venv, install, load the demo trial and start ChainSight"
	@echo "make test      lint, type checks and the whole test suite"
	@echo "make bench     performance benchmarks (figures go to benchmarks/README.md)"
	@echo "make lock      re-resolve requirements.lock from pyproject.toml"
	@echo "make docs      regenerate the scenario JSON Schema in docs/"

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/chainsight import $(DEMO) --keep-existing
	$(BIN)/chainsight summary $(DEMO_TRIAL)
	$(BIN)/chainsight demo-users $(DEMO_TRIAL)
	@echo "Control tower: http://127.0.0.1:8000/ (log in with a demo user above, password chainsight-demo)"
	$(BIN)/chainsight serve --host 127.0.0.1 --port 8000 --clock-start $(DEMO_CLOCK)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: install
	$(BIN)/python benchmarks/run_all.py

lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--quiet --no-header -o requirements.lock

docs: install
	$(BIN)/chainsight schema scenario -o docs/scenario.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
