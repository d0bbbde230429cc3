"""Golden row fingerprints: fixed rows → fixed hashes, on every engine and in plain Python.

The tests that compute on an engine run once per engine (the ``engine`` fixture, see
tests/conftest.py): Spark reproduces DuckDB's exact hashes.
"""

import datetime as dt
import math

import ibis
import pytest

from headwater.tables.fingerprint import fingerprint, fingerprint_python

SCHEMA = {"s": "string", "i": "int", "f": "float", "b": "bool", "d": "date", "t": "timestamp"}

GOLDEN = [
    (
        {
            "s": "abc",
            "i": 1,
            "f": 1.5,
            "b": True,
            "d": dt.date(2024, 1, 2),
            "t": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        },
        "a4d3913b7ce1bb3f7d736d18c26be4c0",
    ),
    (
        {"s": None, "i": None, "f": None, "b": None, "d": None, "t": None},
        "d41d8cd98f00b204e9800998ecf8427e",
    ),
    ({"s": "", "i": 0, "f": -0.0, "b": False, "d": None, "t": None}, None),
    ({"s": "x\x1fy", "i": -7, "f": 0.1, "b": None, "d": None, "t": None}, None),
    ({"s": None, "i": None, "f": float("nan"), "b": None, "d": None, "t": None}, None),
    ({"s": None, "i": None, "f": 1e20, "b": None, "d": None, "t": None}, None),
    ({"s": None, "i": None, "f": float("-inf"), "b": None, "d": None, "t": None}, None),
]


def _engine_hashes(engine, rows):
    import pyarrow as pa

    arrays = {
        "s": pa.array([r["s"] for r in rows], pa.string()),
        "i": pa.array([r["i"] for r in rows], pa.int64()),
        "f": pa.array([r["f"] for r in rows], pa.float64()),
        "b": pa.array([r["b"] for r in rows], pa.bool_()),
        "d": pa.array([r["d"] for r in rows], pa.date32()),
        "t": pa.array([r["t"] for r in rows], pa.timestamp("us", tz="UTC")),
    }
    t = ibis.memtable(pa.table(arrays))
    return engine.to_pyarrow(t.select(fp=fingerprint(t, SCHEMA)))["fp"].to_pylist()


def test_engine_matches_python_reference_on_every_golden_row(engine):
    rows = [r for r, _ in GOLDEN]
    assert _engine_hashes(engine, rows) == [fingerprint_python(r, SCHEMA) for r in rows]


@pytest.mark.parametrize(("row", "expected"), [g for g in GOLDEN if g[1]])
def test_golden_hashes_are_pinned(row, expected):
    assert fingerprint_python(row, SCHEMA) == expected


def test_golden_hash_is_md5_of_the_documented_encoding():
    encoding = (
        "b\x1ftrue\x1e"
        "d\x1f2024-01-02\x1e"
        "f\x1f1.5\x1e"
        "i\x1f1\x1e"
        "s\x1f3:abc\x1e"
        "t\x1f2024-01-02T03:04:05.000006"
    )
    import hashlib

    assert hashlib.md5(encoding.encode()).hexdigest() == GOLDEN[0][1]


def test_whole_floats_hash_like_ints_and_negative_zero_like_zero():
    a = fingerprint_python({"f": 5.0}, {"f": "float"})
    assert a == fingerprint_python({"f": 5}, {"f": "int"})
    assert fingerprint_python({"f": -0.0}, {"f": "float"}) == fingerprint_python(
        {"f": 0.0}, {"f": "float"}
    )
    assert not math.isnan(0.0)


def test_null_columns_do_not_change_the_hash():
    base = fingerprint_python({"a": "x"}, {"a": "string"})
    assert fingerprint_python({"a": "x", "new": None}, {"a": "string", "new": "int"}) == base


def test_the_encoding_is_unambiguous():
    s = {"a": "string", "b": "string"}
    assert fingerprint_python({"a": "x", "b": "y"}, s) != fingerprint_python(
        {"a": "xy", "b": None}, s
    )
    assert fingerprint_python({"a": "1:x"}, {"a": "string"}) != fingerprint_python(
        {"a": "1"}, {"a": "string"}
    )


@pytest.mark.notimpl(
    ["spark"],
    reason="the portable halves cast hex to uint64, which Spark lacks; Spark computes the same"
    " numbers with its own digest_halves (test_engine_digest_halves_equal_the_portable_halves)",
    raises=Exception,
)
def test_halves_on_the_engine_match_the_python_reference(engine):
    from headwater.tables.fingerprint import halves, halves_python

    hexes = [fingerprint_python(r, SCHEMA) for r, _ in GOLDEN]
    hexes += ["0" * 32, "f" * 32, "7fffffffffffffff8000000000000000"]
    t = ibis.memtable({"h": hexes})
    got = engine.to_pyarrow(halves(t, "h")).to_pylist()
    assert [(g["_hw_fp_hi"], g["_hw_fp_lo"]) for g in got] == [halves_python(h) for h in hexes]
    assert halves_python("0" * 32) == (-(2**63), -(2**63))
    assert halves_python("f" * 32) == (2**63 - 1, 2**63 - 1)


def test_fingerprints_from_text_use_canonical_source_text_exactly(engine):
    """The typing pass reuses a float's or date's source text as its canonical text when it
    already is (formatting a double is the dearest part of a fingerprint): the result must
    be the fingerprint of the typed value, whatever the source text looked like."""
    import pyarrow as pa

    from headwater.config import DatasetConfig
    from headwater.tables import transform as pl
    from headwater.tables.fingerprint import halves_python

    floats = [
        "468.6", "1.50", ".5", "0.5", "-0.5", "5", "5.0", "-0.0", "1e5", "1E-7", "0.0001",
        "0.00012", "0.00001", "0.000123456789012", "123456789012345.5", "12345678901234.5",
        "0.30000000000000004", "0.1", "+2.25", "007.5", "2.50", "inf", "-Infinity",
        "99999999999999.9", "1234567.125", "3.14159265358979", "10.01",
    ]  # fmt: skip
    dates = ["2024-01-02", "1999-12-31", "2024-02-29"] * 9
    n = len(floats)
    batch = ibis.memtable(
        pa.table(
            {
                "f": floats,
                "d": dates[:n],
                "_hw_file": pa.array([1] * n, pa.int64()),
                "_hw_record": pa.array(range(1, n + 1), pa.int64()),
            }
        )
    )
    schema = {"f": "float", "d": "date"}
    ds = DatasetConfig(name="x")
    typed = pl.type_stage(pl.clean_stage(pl.trim_stage(batch), ds), schema, [])
    table, _ = pl.check_stage(typed, schema, [], ds, digest=engine.digest_halves)
    got = engine.to_pyarrow(table.order_by("_hw_record")).to_pylist()
    assert [g["_hw_check"] for g in got] == [None] * n  # every text above is a valid value
    for g in got:
        expected = halves_python(fingerprint_python({"f": g["f"], "d": g["d"]}, schema))
        assert (g["_hw_fp_hi"], g["_hw_fp_lo"]) == expected, g


def test_engine_digest_halves_equal_the_portable_halves(engine):
    """DuckDB computes the halves from ``md5_number`` (no hex): the same numbers as the
    md5 hex read in halves, on every golden encoding and a thousand other strings."""
    import hashlib

    import pyarrow as pa

    from headwater.tables.fingerprint import halves_python

    texts = [""] + [f"row {i} \x1e x\x1f{i * 7919}" for i in range(1000)] + ["é" * 40]
    t = ibis.memtable(pa.table({"i": range(len(texts)), "s": texts}))
    got = engine.to_pyarrow(engine.digest_halves(t, "s").order_by("i")).to_pylist()
    expected = [halves_python(hashlib.md5(s.encode()).hexdigest()) for s in texts]
    assert [(g["_hw_fp_hi"], g["_hw_fp_lo"]) for g in got] == expected
    assert {g["_hw_fp_hi"] < 0 for g in got} == {True, False}  # both branches of the offset
