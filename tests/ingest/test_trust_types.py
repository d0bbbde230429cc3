"""Types under bad input: no value loses precision silently, inference tolerates a few
bad values, and a configured column that no file has is a warning, not an empty column."""

import pytest

from headwater import ConfigError, IngestError
from headwater.config import TEMPLATE
from headwater.project import Project
from tests.conftest import put, run_cli

BIG = "99999999999999999999999"  # beyond int64; as a double it would be 1e23
ODD = 2**53 + 1  # an int64 no double can hold (it rounds to 2**53)


def schema(p):
    return dict(p.versions()[0]["schema"])


def numbers(n, bad=None, at=None):
    lines = [str(i) for i in range(1, n + 1)]
    if bad is not None:
        lines.insert(at if at is not None else n // 2, bad)
    return "n\n" + "\n".join(lines) + "\n"


# -- precision --------------------------------------------------------------------------


def test_an_integer_beyond_int64_is_not_inferred_as_a_rounded_float(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", f"id,n\n1,5\n2,{BIG}\n")
    r = p.ingest()
    assert r.status == "ok"
    assert schema(p)["n"] == "string"  # 1 of 2 values fits no number exactly: text
    assert sorted(row["n"] for row in p.read().to_pylist()) == ["5", BIG]


def test_a_key_beyond_int64_keeps_every_row_distinct(make_project, tmp_path):
    """As doubles both keys were 1e23: one row superseded the other."""
    p = make_project('key = ["id"]\n')
    put(tmp_path / "incoming/a.csv", f"id,v\n{BIG},a\n{BIG[:-1]}8,b\n")
    r = p.ingest()
    assert (r.rows_added, r.rows_superseded) == (2, 0)
    assert schema(p)["id"] == "string"
    assert sorted(row["id"] for row in p.read().to_pylist()) == [f"{BIG[:-1]}8", BIG]


def test_one_integer_beyond_int64_among_many_is_rejected_with_its_reason(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", numbers(2000, BIG))
    r = p.ingest()
    assert schema(p)["n"] == "int"
    assert (r.rows_added, r.rows_rejected) == (2000, 1)
    [rej] = p.rejects(r.run_id)
    assert (rej["value"], rej["rule"]) == (BIG, "type")
    assert "int64 range" in rej["reason"]


def test_a_whole_number_a_float_cannot_hold_is_rejected_from_a_float_column(make_project, tmp_path):
    p = make_project('[dataset.columns.x]\ntype = "float"\n')
    put(tmp_path / "incoming/a.csv", f"x\n1.5\n{ODD}\n{2**53}\n")
    r = p.ingest()
    assert (r.rows_added, r.rows_rejected) == (2, 1)
    [rej] = p.rejects(r.run_id)
    assert rej["value"] == str(ODD)
    assert "rounded" in rej["reason"] and "string" in rej["reason"]
    assert sorted(row["x"] for row in p.read().to_pylist()) == [1.5, float(2**53)]


def test_a_widening_that_would_round_stored_values_is_refused(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", f"n\n1\n{ODD}\n")
    assert p.ingest().dataset_version == 1
    assert schema(p)["n"] == "int"
    put(tmp_path / "incoming/b.csv", "n\n2.5\n")
    with pytest.raises(IngestError, match=r"widen.*'n'.*int → float") as err:
        p.ingest()
    assert "--rebuild" in (err.value.hint or "") and "type" in (err.value.hint or "")
    failed = p.history()[0]
    assert failed["status"] == "failed" and "would change" in failed["error"]
    assert [v["version"] for v in p.versions()] == [1]  # nothing was written
    assert sorted(row["n"] for row in p.read().to_pylist()) == [1, ODD]
    # the fix the hint gives: pin the type; the float is then a rejected row
    toml = tmp_path / "headwater.toml"
    toml.write_text(toml.read_text() + '\n[dataset.columns.n]\ntype = "int"\n')
    p = Project.open(tmp_path)
    r = p.ingest()
    assert (r.rows_rejected, r.rows_added, r.status) == (1, 0, "partial")
    assert sorted(row["n"] for row in p.read().to_pylist()) == [1, ODD]


def test_a_widening_that_keeps_every_stored_value_still_happens(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", f"n\n1\n{2**53}\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "n\n2.5\n")
    r = p.ingest()
    assert r.schema_changes == {"widened": {"n": "int → float"}}
    assert sorted(row["n"] for row in p.read().to_pylist()) == [1.0, 2.5, float(2**53)]


# -- inference tolerance ----------------------------------------------------------------


def test_one_bad_value_among_many_numbers_is_a_rejected_row_not_a_text_column(
    make_project, tmp_path
):
    p = make_project()
    put(tmp_path / "incoming/a.csv", numbers(2000, "abc"))
    r = p.ingest()
    assert schema(p)["n"] == "int"
    assert (r.rows_added, r.rows_rejected, r.status) == (2000, 1, "partial")
    [rej] = p.rejects(r.run_id)
    assert (rej["value"], rej["rule"], rej["column"]) == ("abc", "type", "n")
    assert "infer_tolerance" in rej["reason"]
    tolerated = {"n": {"type": "int", "values": 2001, "not_fitting": 1}}
    assert r.schema_changes["tolerated"] == tolerated
    assert p.versions()[0]["lineage"]["schema_changes"]["tolerated"] == tolerated
    assert p.run_record(r.run_id)["summary"]["schema_changes"]["tolerated"] == tolerated


def test_one_bad_value_of_three_is_far_above_tolerance_and_the_column_is_text(
    make_project, tmp_path
):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "n\n1\nabc\n3\n")
    r = p.ingest()
    assert schema(p)["n"] == "string"
    assert (r.rows_added, r.rows_rejected) == (3, 0)
    assert "tolerated" not in r.schema_changes


def test_infer_tolerance_zero_keeps_exact_inference(make_project, tmp_path):
    p = make_project("infer_tolerance = 0\n")
    put(tmp_path / "incoming/a.csv", numbers(2000, "abc"))
    r = p.ingest()
    assert schema(p)["n"] == "string"
    assert (r.rows_added, r.rows_rejected) == (2001, 0)


def test_more_bad_values_than_the_tolerance_make_the_column_text(make_project, tmp_path):
    p = make_project("infer_tolerance = 0.01\n")
    body = numbers(100, "abc", 10).replace("\n50\n", "\nxyz\n")  # 2 of 101 is above 1%
    put(tmp_path / "incoming/a.csv", body)
    r = p.ingest()
    assert schema(p)["n"] == "string" and r.rows_rejected == 0
    p2 = make_project("infer_tolerance = 0.05\n")
    r2 = p2.ingest(rebuild=True)
    assert schema(p2)["n"] == "int" and r2.rows_rejected == 2


@pytest.mark.parametrize("bad", ["-0.1", "1", "1.5", '"x"'])
def test_infer_tolerance_must_be_a_fraction_below_one(make_project, bad):
    with pytest.raises(ConfigError, match=r"'dataset.infer_tolerance' = "):
        make_project(f"infer_tolerance = {bad}\n")


def test_infer_tolerance_is_documented_in_the_template():
    assert "# infer_tolerance = 0.001" in TEMPLATE


# -- configured columns that no file has -------------------------------------------------


def test_a_configured_column_no_file_has_is_a_warning_not_an_empty_column(make_project, tmp_path):
    p = make_project('[dataset.columns.exitd]\ntype = "int"\n')
    put(tmp_path / "incoming/a.csv", "id,exited\n1,0\n2,1\n")
    r = p.ingest()
    assert r.status == "ok"
    assert "exitd" not in schema(p)
    assert "exitd" not in p.read().column_names
    [warning] = r.warnings
    assert warning["column"] == "exitd"
    assert "'exitd'" in warning["reason"] and "did you mean 'exited'?" in warning["reason"]
    assert p.run_record(r.run_id)["summary"]["warnings"] == [warning]
    # a later file that has the column adds it with its configured type
    put(tmp_path / "incoming/b.csv", "id,exited,exitd\n3,1,7\n")
    r2 = p.ingest()
    assert r2.warnings == [] and schema(p)["exitd"] == "int"


def test_the_cli_prints_the_warning_for_a_configured_column_no_file_has(make_project, tmp_path):
    make_project("[dataset.columns.exitd]\nnot_null = false\n")
    put(tmp_path / "incoming/a.csv", "id,exited\n1,0\n")
    res = run_cli("ingest", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "warning:" in res.stderr and "did you mean 'exited'?" in res.stderr


def test_the_tolerance_counts_every_row_when_the_bad_value_is_past_the_sample(
    make_project, tmp_path
):
    p = make_project()
    put(tmp_path / "incoming/a.csv", numbers(25_000, "abc", 24_000))
    r = p.ingest()
    assert schema(p)["n"] == "int" and r.rows_rejected == 1
    assert r.schema_changes["tolerated"] == {
        "n": {"type": "int", "values": 25_001, "not_fitting": 1}
    }
