"""The same input gives the same results on every engine (DuckDB and Spark).

Each test runs once per engine (``engine_name``, tests/conftest.py) and checks written-down
expectations, so both engines are held to the same rows, rejects, counts and statistics;
the last test reads on one engine a version the other wrote.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import put


def rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def test_ingest_csv_jsonl_and_parquet_with_upsert_and_rejects(make_project, tmp_path, engine_name):
    """Three formats in one run, a key, an upsert in the second run, and rejects.

    a.csv: acme 10 (superseded by b.csv), bolt with a bad float (rejected: type), a quoted
    comma and a quoted newline; c.jsonl: crux, and a row with a null key (rejected: key);
    d.parquet: dyno. b.csv (second run): acme changes, bolt arrives valid."""
    p = make_project('key = ["name"]\n[dataset.columns.price]\ntype = "float"\n', engine=engine_name)
    inc = tmp_path / "incoming"
    put(
        inc / "a.csv",
        'name,n,price,day,note\nacme,10,1.50,2024-01-02,"a, b"\nbolt,20,x7,2024-01-03,"two\nlines"\n',
    )
    put(
        inc / "c.jsonl",
        '{"name": "crux", "n": 3, "price": 0.00001, "day": "2024-02-29", "note": null}\n'
        '{"name": null, "n": 4, "price": 2, "day": "2024-03-01", "note": "no key"}\n',
    )
    d = inc / "d.parquet"
    pq.write_table(
        pa.table(
            {
                "name": ["dyno"],
                "n": pa.array([5], pa.int64()),
                "price": [123456789012345.5],
                "day": ["2024-04-01"],
                "note": ["pq"],
            }
        ),
        d,
    )
    r = p.ingest()
    assert (r.rows_added, r.rows_rejected, r.status) == (3, 2, "partial")
    assert p.read().schema.names[:5] == ["name", "n", "price", "day", "note"]
    assert {f.name: str(f.type) for f in p.read().schema}["price"] == "double"
    rej = sorted(p.rejects(r.run_id), key=lambda x: x["record"])
    assert [(x["rule"], x["column"], x["record"], x["value"]) for x in rej] == [
        ("type", "price", 2, "x7"),
        ("key", "name", 2, None),
    ]
    put(inc / "b.csv", "name,n,price,day,note\nacme,11,1.5,2024-01-05,\nbolt,21,2.25,2024-01-06,ok\n")
    r2 = p.ingest()
    assert (r2.rows_added, r2.rows_retracted, r2.dataset_rows) == (2, 1, 4)
    import datetime as dt

    assert rows(p.read()) == [
        {"name": "acme", "n": 11, "price": 1.5, "day": dt.date(2024, 1, 5), "note": None},
        {"name": "bolt", "n": 21, "price": 2.25, "day": dt.date(2024, 1, 6), "note": "ok"},
        {"name": "crux", "n": 3, "price": 1e-05, "day": dt.date(2024, 2, 29), "note": None},
        {"name": "dyno", "n": 5, "price": 123456789012345.5, "day": dt.date(2024, 4, 1),
         "note": "pq"},
    ]  # fmt: skip
