"""Upsert by key, the definition of "newer", types, schema evolution and rejects."""

import pytest

from headwater import ConfigError
from tests.conftest import put


def live(p, version=None):
    return sorted(p.read(version).to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def test_upsert_newer_run_supersedes_and_identical_rows_are_duplicates(make_project, tmp_path):
    p = make_project('key = ["corporation"]\n')
    put(tmp_path / "incoming/a.csv", "corporation,employees\nacme,10\nbolt,20\n")
    p.ingest()
    # acme changes (superseded), bolt identical (duplicate), crux new
    put(tmp_path / "incoming/b.csv", "corporation,employees\nacme,11\nbolt,20\ncrux,5\n")
    r = p.ingest()
    assert (r.rows_added, r.duplicates_dropped, r.rows_retracted, r.dataset_rows) == (2, 1, 1, 3)
    assert live(p) == [
        {"corporation": "acme", "employees": 11},
        {"corporation": "bolt", "employees": 20},
        {"corporation": "crux", "employees": 5},
    ]
    # version 1 still shows the old acme
    assert {"corporation": "acme", "employees": 10} in live(p, 1)


def test_within_a_run_later_source_path_and_record_win(make_project, tmp_path):
    p = make_project('key = ["k"]\n')
    put(tmp_path / "incoming/a.csv", "k,v\nx,1\nx,2\n")  # record 2 is newer than record 1
    put(tmp_path / "incoming/b.csv", "k,v\ny,1\n")
    put(tmp_path / "incoming/c.csv", "k,v\ny,3\n")  # c.csv sorts after b.csv: newer
    r = p.ingest()
    assert r.rows_superseded == 2 and r.rows_added == 2
    assert live(p) == [{"k": "x", "v": 2}, {"k": "y", "v": 3}]


def test_order_by_decides_newer_and_older_rows_are_stale(make_project, tmp_path):
    p = make_project('key = ["k"]\norder_by = "day"\n')
    put(tmp_path / "incoming/a.csv", "k,day,v\nx,2024-01-05,new\nx,2024-01-01,old\n")
    r = p.ingest()
    assert live(p)[0]["v"] == "new" and r.rows_superseded == 1
    put(tmp_path / "incoming/b.csv", "k,day,v\nx,2024-01-03,late-arriving-but-older\n")
    r2 = p.ingest()
    assert (r2.rows_stale, r2.rows_added, r2.rows_retracted) == (1, 0, 0)
    assert live(p)[0]["v"] == "new"
    put(tmp_path / "incoming/c.csv", "k,day,v\nx,2024-02-01,newest\n")
    r3 = p.ingest()
    assert (r3.rows_added, r3.rows_retracted) == (1, 1)
    assert [row["v"] for row in live(p)] == ["newest"]


def test_null_key_is_rejected(make_project, tmp_path):
    p = make_project('key = ["k"]\n')
    put(tmp_path / "incoming/a.csv", "k,v\n,1\nz,2\n")
    r = p.ingest()
    assert (r.rows_rejected, r.rows_added, r.status) == (1, 1, "partial")
    rej = p.rejects(r.run_id)
    assert (rej[0]["rule"], rej[0]["column"], rej[0]["record"]) == ("key", "k", 1)


def test_value_that_does_not_fit_the_pinned_type_is_rejected_never_nulled(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "n,f\n1,1.5\n2,2.5\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "n,f\n3,x7\n1.5,4\n4,5\n")
    r = p.ingest()
    assert (r.rows_rejected, r.rows_added) == (1, 2)  # 1.5 widens n to float; x7 is rejected
    rej = p.rejects(r.run_id)
    assert len(rej) == 1
    assert (rej[0]["column"], rej[0]["value"], rej[0]["rule"], rej[0]["record"]) == (
        "f",
        "x7",
        "type",
        1,
    )
    assert "'x7' is not a valid float for column 'f'" in rej[0]["reason"]
    assert r.schema_changes == {"widened": {"n": "int → float"}}
    assert [row["n"] for row in live(p)] == [1.0, 1.5, 2.0, 4.0]


def test_strict_casts_refuse_what_engines_would_silently_convert(make_project, tmp_path):
    p = make_project("""
        [dataset.columns.n]
        type = "int"
        [dataset.columns.d]
        type = "date"
    """)
    put(tmp_path / "incoming/a.csv", "n,d\n7,2024-01-02\n1.5,2024-01-03\n0x1F,2024-01-04\n8,inf\n")
    r = p.ingest()
    assert r.rows_rejected == 3 and r.rows_added == 1
    assert sorted(x["value"] for x in p.rejects(r.run_id)) == ["0x1F", "1.5", "inf"]


def test_freeze_rejects_rows_with_new_columns(make_project, tmp_path):
    p = make_project('schema = "freeze"\n')
    put(tmp_path / "incoming/a.csv", "a\n1\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "a,extra\n2,\n3,x\n")
    r = p.ingest()
    assert (r.rows_rejected, r.rows_added) == (1, 1)
    assert p.rejects(r.run_id)[0]["rule"] == "schema"
    assert p.read().column_names == ["a"]


def test_evolve_adds_nullable_columns(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "a\n1\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "a,b\n2,x\n")
    r = p.ingest()
    assert r.schema_changes == {"added": {"b": "string"}}
    assert live(p) == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]
    assert p.read(1).column_names == ["a"]


def test_validation_rules_reject_with_the_rule(make_project, tmp_path):
    p = make_project("""
        [dataset.columns.age]
        type = "int"
        min = 0
        max = 120
        not_null = true
        [dataset.columns.status]
        allowed = ["active", "gone"]
        [dataset.columns.code]
        regex = "[A-Z]{3}"
    """)
    put(
        tmp_path / "incoming/a.csv",
        """
        age,status,code
        30,active,ABC
        -1,active,ABC
        200,gone,ABC
        ,active,ABC
        40,paused,ABC
        50,gone,abcd
    """,
    )
    r = p.ingest()
    assert r.rows_added == 1
    got = {x["record"]: x["rule"] for x in p.rejects(r.run_id)}
    assert got == {2: "min", 3: "max", 4: "not_null", 5: "allowed", 6: "regex"}


def test_na_tokens_are_configurable(make_project, tmp_path):
    p = make_project('na_values = ["-"]\n')
    put(tmp_path / "incoming/a.csv", "a,b\n1,-\n2,NA\n")
    p.ingest()
    assert live(p) == [{"a": 1, "b": None}, {"a": 2, "b": "NA"}]


def test_thousands_separator_is_removed_for_numbers(make_project, tmp_path):
    p = make_project(sources='[[sources]]\npath = "incoming"\nthousands = ","\n')
    put(tmp_path / "incoming/a.csv", 'v,name\n"1,234,567","a,b"\n')
    r = p.ingest()
    assert live(p) == [{"v": 1234567, "name": "a,b"}]
    assert r.files[0]["fixes"]["thousands_separators_removed"] == 1


def test_headers_that_normalise_to_the_same_name_fail_the_file(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "Price,price \n1,2\n")
    put(tmp_path / "incoming/b.csv", "price\n3\n")
    r = p.ingest()
    assert (r.files_failed, r.rows_added) == (1, 1)
    failed = next(f for f in r.files if f["status"] == "failed")
    assert "'Price' and 'price '" in failed["reason"] and "both become 'price'" in failed["reason"]


def test_key_order_by_mismatch_is_a_config_error(make_project):
    with pytest.raises(ConfigError):
        make_project('order_by = "d"\n')


def test_types_are_inferred_from_all_rows_not_just_a_sample(make_project, tmp_path):
    # the first 20,000 rows look like ints and dates; later rows do not
    n = 25_000
    lines = ["n,d"] + [f"{i},2024-01-01" for i in range(n - 2)] + ["1.5,2024-01-02", "7,soon"]
    put(tmp_path / "incoming/a.csv", "\n".join(lines) + "\n")
    p = make_project("infer_tolerance = 0\n")  # every value must fit (1 in 25,000 does not)
    r = p.ingest()
    assert r.rows_rejected == 0 and r.rows_added == n
    assert r.schema_changes == {"pinned": {"n": "float", "d": "string"}}


def test_trimming_strips_ascii_whitespace_only_and_skips_clean_values():
    """``strip_text`` is Python's ``str.strip`` over ASCII whitespace: the replace runs only
    on values whose first or last character is a space or control character, and the
    other control characters and Unicode spaces stay."""
    import ibis
    import pyarrow as pa

    from headwater.tables.transform import strip_text

    values = [
        " a", "a ", "\ta\t", "\x0ba\x0c", "\r\na b\r\n", "\x01a", "a\x01", "\x01 a \x01",
        "\u00a0a\u00a0", "", "   ", "\t", "é ", " é", "a b", "x", None, " \x01 ",
    ]  # fmt: skip
    t = ibis.memtable(pa.table({"v": pa.array(values, pa.string())}))
    got = ibis.duckdb.connect().to_pyarrow(t.select(v=strip_text(t.v)))["v"].to_pylist()
    assert got == [None if v is None else v.strip(" \t\n\r\x0b\x0c") for v in values]
