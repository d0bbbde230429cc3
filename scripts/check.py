"""Run every check CI runs, in order, and stop at the first failure.

`make test` and `.ci/run` both call this script, so a green run here is a green run in CI.
pytest's exit code 5 (no tests collected) is a failure, never a pass. The suite runs twice:
with each project's records in SQLite (the default), then in PostgreSQL
(``HEADWATER_TEST_RECORDS=postgresql``: every project the tests make keeps its records on
the throw-away cluster), leaving out what does not touch the records store (the Spark
engine, the browser) or touches it as any other test does at many times the cost (the
2,000-column ingest and compare: minutes of query compilation, one records row per file).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

STEPS = [
    ("ruff lint", [str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "scripts"]),
    (
        "ruff format",
        [str(BIN / "ruff"), "format", "--check", "src", "tests", "benchmarks", "scripts"],
    ),
    ("mypy", [str(BIN / "mypy")]),
    ("pytest", [str(BIN / "pytest"), *sys.argv[1:]]),
    (
        "pytest, records on PostgreSQL",
        [
            str(BIN / "pytest"),
            "-q",
            "--ignore=tests/engines",
            "--ignore=tests/serve/test_dashboard_browser.py",
            "--deselect=tests/ingest/test_trust_wide.py::test_2000_columns_ingest",
            "--deselect=tests/ingest/test_trust_wide.py::test_2000_columns_compare",
            *sys.argv[1:],
        ],
    ),
]
ENV = {"pytest, records on PostgreSQL": {"HEADWATER_TEST_RECORDS": "postgresql"}}


def main() -> int:
    for name, cmd in STEPS:
        print(f"==> {name}: {' '.join(cmd)}", flush=True)
        rc = subprocess.call(cmd, cwd=ROOT, env={**os.environ, **ENV.get(name, {})})
        if rc != 0:
            why = " (no tests were collected)" if name == "pytest" and rc == 5 else ""
            print(f"==> {name} failed with exit code {rc}{why}", flush=True)
            return rc or 1
    print("==> all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
