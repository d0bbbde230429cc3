# Two entry points: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint types unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/headwater demo headwater-demo --force

# `make test` is what CI runs (.ci/run): lint, format check, types, tests.
test: $(STAMP)
	$(BIN)/python scripts/check.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Benchmarks: ingestion (1M and 10M rows), comparisons (1M and 5M rows), wide tables → benchmarks/RESULTS.md
bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python run.py && ../$(BIN)/python compare.py && ../$(BIN)/python wide.py

clean:
	rm -rf $(VENV) headwater-demo .pytest_cache .mypy_cache .ruff_cache
