"""Trustworthy under wide data and engine-specific rules (issue #13, items 7 and 15).

Wide tables (one-hot exports, sensor tables) have thousands of columns: every per-column
expression must be assembled flat or as a balanced tree, never as a chain as deep as the
column count. A regular expression must be valid in the engine's own dialect, checked
before the run does any work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import put, run_cli

# The two 2,000-column tests take minutes (the Ibis compile of the typing and comparison
# passes, a few ms per column and stage, linear in the width: benchmarks/wide.py); they
# run in the first pass of `make test` only (scripts/check.py).
WIDE = 2_000


def _wide_csv(path: Path, rows: list[list[str]]) -> Path:
    header = ",".join(f"c{i}" for i in range(WIDE))
    return put(path, header + "\n" + "".join(",".join(r) + "\n" for r in rows))


def _row(seed: int) -> list[str]:
    # int, float and string columns in turn, with a padded cell and an NA token in each row
    out = []
    for i in range(WIDE):
        kind = i % 3
        if kind == 0:
            out.append(str(seed * 10 + i))
        elif kind == 1:
            out.append(f"{seed}.{i % 10}5")
        else:
            out.append(f"s{seed}_{i}")
    out[5] = f" {out[5]} "
    out[8] = "NA"
    return out


def test_2000_columns_ingest(make_project, tmp_path):
    p = make_project()
    rows = [_row(s) for s in (1, 2, 3)]
    _wide_csv(tmp_path / "incoming/wide.csv", rows)
    r = p.ingest()
    assert (r.status, r.rows_added, r.rows_rejected, r.files_failed) == ("ok", 3, 0, 0), r.files
    [f] = r.files
    assert f["fixes"]["cells_trimmed"] == 3 and f["fixes"]["na_tokens_mapped"] == 3
    t = p.read()
    assert t.num_columns == WIDE
    types = {str(t.schema.field(f"c{i}").type) for i in range(0, WIDE, 3)}
    assert types == {"int64"}
    assert str(t.schema.field("c1").type) == "double"
    assert str(t.schema.field("c2").type) == "string"
    got = sorted(t.to_pylist(), key=lambda row: row["c0"])
    assert [g["c0"] for g in got] == [10, 20, 30]
    assert got[0]["c1998"] == 10 + 1998 and got[2]["c1997"] == "s3_1997"
    assert got[1]["c5"] == "s2_5" and got[1]["c8"] is None
    assert got[2]["c4"] == 3.45
    # a second run finds the same rows again: de-duplicated over all 2,000 columns
    _wide_csv(tmp_path / "incoming/again.csv", [*rows[:1], _row(4)])
    r2 = p.ingest()
    assert (r2.status, r2.rows_added, r2.duplicates_dropped) == ("ok", 1, 1)


def test_2000_columns_compare(tmp_path):
    rows = [_row(s) for s in (1, 2, 3)]
    left = _wide_csv(tmp_path / "left.csv", rows)
    changed = [list(r) for r in rows]
    changed[1][1500] = "999"
    right = _wide_csv(tmp_path / "right.csv", changed)
    proc = run_cli("compare", str(left), str(right), "--key", "c0", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rows_with_differences"] == 1
    unequal = {c: v["unequal"] for c, v in report["columns"].items() if v["unequal"]}
    assert unequal == {"c1500": 1}
    same = run_cli("compare", str(left), str(left), "-f", "json", cwd=tmp_path)
    assert same.returncode == 0, same.stderr


def test_type_inference_is_one_small_query_at_2000_columns(tmp_path):
    """The fit counts of 2,000 columns are one query of a few expressions over the columns
    unpivoted (one row per column), not 6 aggregates per column (12,000 expressions: a
    query whose compile and optimisation grew faster than the column count)."""
    import ibis
    import pyarrow as pa

    from headwater.tables.transform import INFER_ORDER, infer_types, sample_types

    rows = [_row(s) for s in (1, 2, 3)]
    data = {f"c{i}": [r[i] for r in rows] for i in range(WIDE)}
    data["c7"] = ["2024-01-02", "2024-01-03", None]  # a date column with a null
    text = ibis.memtable(pa.table({**data, "_hw_thousands": ["", "", ""]}))
    con = ibis.duckdb.connect()
    queries: list[ibis.Table] = []

    def execute(expr: ibis.Table) -> pa.Table:
        queries.append(expr)
        return con.to_pyarrow(expr)

    columns = [f"c{i}" for i in range(WIDE)]
    for counts in (sample_types(text, columns, execute), infer_types(text, columns, execute)):
        assert len(counts) == WIDE
        zero = dict.fromkeys(INFER_ORDER, 0)
        assert counts["c0"] == {**zero, "n": 3, "int": 3, "float": 3}
        assert counts["c4"] == {**zero, "n": 3, "float": 3}
        assert counts["c2"] == {**zero, "n": 3}
        assert counts["c7"] == {**zero, "n": 2, "date": 2, "timestamp": 2}
    assert len(queries) == 2
    for q in queries:  # one row per column: the column's name and its counts
        assert len(q.columns) == 1 + 1 + len(INFER_ORDER)


@pytest.mark.parametrize("staged", [False, True])
def test_a_wide_batch_written_stage_by_stage_gives_the_same_rows_and_rejects(
    make_project, tmp_path, monkeypatch, staged
):
    """Above WIDE_COLUMNS DuckDB writes the typing stack one projection at a time; the
    dataset, the rejects and their record numbers are those of the one-query write."""
    from headwater.engines import _duckdb
    from headwater.tables import read

    width = 300
    if not staged:  # neither the cleaned text stored first nor the typing stack staged
        monkeypatch.setattr(_duckdb, "WIDE_COLUMNS", 10_000)
        monkeypatch.setattr(read, "WIDE_COLUMNS", 10_000)

    def csv(name: str, seeds: range, bad: int | None = None) -> None:
        lines = [",".join(f"c{i}" for i in range(width))]
        for s in seeds:
            cells = [str(s * 1000 + i) if i % 2 == 0 else f" v{s}_{i} " for i in range(width)]
            if s == bad:
                cells[4] = "not a number"
            if s % 3 == 0:
                cells[1] = "NA"
            lines.append(",".join(cells))
        put(tmp_path / "incoming" / name, "\n".join(lines) + "\n")

    p = make_project(extra='[dataset.columns.c4]\ntype = "int"\n')
    csv("a.csv", range(1, 8))
    csv("b.csv", range(8, 15), bad=11)
    r = p.ingest()
    assert (r.rows_added, r.rows_rejected, r.files_failed) == (13, 1, 0), r.files
    [rej] = p.rejects(r.run_id)
    assert (rej["column"], rej["value"], rej["record"]) == ("c4", "not a number", 4), rej
    t = p.read(provenance=True)
    assert t.num_columns >= width
    got = sorted(t.to_pylist(), key=lambda row: row["c0"])
    assert [g["c0"] for g in got] == [s * 1000 for s in range(1, 15) if s != 11]
    by_seed = {g["c0"] // 1000: g for g in got}
    assert by_seed[3]["c1"] is None and by_seed[4]["c1"] == "v4_1"
    assert by_seed[12]["c299"] == "v12_299" and by_seed[9]["c298"] == 9298
