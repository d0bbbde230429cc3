# Two entry points: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test system check lint types unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/headwater demo headwater-demo --force

# `make test` is what CI runs (.ci/run): lint, format check, types, tests.
test: $(STAMP) system
	$(BIN)/python scripts/check.py

# System packages the tests use: Debian's cron (the real cron test), postgresql (a
# throw-away cluster for the PostgreSQL record store), chromium (the dashboard's browser
# test) and a Java runtime (Spark). Installed with apt-get when missing and run as root;
# otherwise those tests are skipped (never in CI, where they fail).
system:
	@missing=""; \
	command -v cron >/dev/null 2>&1 || missing="$$missing cron"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note: not installed:$$missing (apt-get install$$missing): their tests are skipped"; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Benchmarks: ingestion (1M and 10M rows), comparisons (1M and 5M rows), the loop (10M rows,
# 1% new), wide tables, /predict against a bare FastAPI endpoint, Spark vs hand-written
# PySpark at 10M rows → benchmarks/RESULTS.md
bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python run.py && ../$(BIN)/python compare.py && ../$(BIN)/python loop.py && ../$(BIN)/python wide.py && ../$(BIN)/python serve.py && ../$(BIN)/python records_pg.py && ../$(BIN)/python spark.py

clean:
	rm -rf $(VENV) headwater-demo .pytest_cache .mypy_cache .ruff_cache
