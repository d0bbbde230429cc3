"""Comparisons: hand-checked small cases, and datacompy as an oracle on generated data."""

import json
import math

import pandas as pd
import pyarrow as pa
import pytest

from headwater import CompareError, compare
from tests.conftest import put, run_cli


def test_whole_rows_count_multiplicity_and_duplicates():
    # left: a, a, b, c   right: a, b, b, d
    left = pa.table({"x": ["a", "a", "b", "c"]})
    right = pa.table({"x": ["a", "b", "b", "d"]})
    c = compare(left, right)
    assert (c.rows_left, c.rows_right, c.rows_in_both) == (4, 4, 2)
    assert (c.rows_only_left, c.rows_only_right) == (2, 2)  # a (2nd copy), c | b (2nd), d
    assert (c.duplicate_rows_left, c.duplicate_rows_right) == (1, 1)
    assert not c.equal
    # examples are the copies counted (the extra ones), in order of first appearance
    assert [r["x"] for r in c.samples["duplicate_rows_left"]] == ["a"]
    assert [r["x"] for r in c.samples["rows_only_left"]] == ["a", "c"]
    assert [r["x"] for r in c.samples["rows_only_right"]] == ["b", "d"]
    three = compare(pa.table({"x": ["z", "a", "a", "a"]}), pa.table({"x": ["a", "z"]}))
    assert three.rows_only_left == 2 and three.duplicate_rows_left == 2
    assert [r["x"] for r in three.samples["rows_only_left"]] == ["a", "a"]
    # a column only on the left: rows compared over "x"; examples are the left's own rows,
    # the copies after as many as the right has; repeats are over all the left's columns
    left2 = left.append_column("n", pa.array([1, 2, 3, 4]))
    c2 = compare(left2, right)
    assert (c2.rows_in_both, c2.rows_only_left, c2.rows_only_right) == (2, 2, 2)
    assert (c2.duplicate_rows_left, c2.duplicate_rows_right) == (0, 1)
    assert c2.samples["rows_only_left"] == [{"x": "a", "n": 2}, {"x": "c", "n": 4}]
    assert [r["x"] for r in c2.samples["rows_only_right"]] == ["b", "d"]
    assert c2.samples["duplicate_rows_right"] == [{"x": "b"}]


def test_equal_tables_are_equal_regardless_of_row_order():
    left = pa.table({"id": [1, 2, 3], "v": [0.5, None, 2.0]})
    right = pa.table({"id": [3, 1, 2], "v": [2.0, 0.5, None]})
    assert compare(left, right).equal
    assert compare(left, right, key="id").equal


def test_keyed_comparison_by_hand():
    left = pd.DataFrame(
        {"id": [1, 2, 3, 4], "name": ["a", "b", "c", "d"], "v": [1.0, 2.0, 3.0, None]}
    )
    right = pd.DataFrame(
        {"id": [2, 3, 4, 5], "name": ["b", "C", "d", "e"], "v": [2.0, 3.5, 4.0, 5.0]}
    )
    c = compare(left, right, key=["id"])
    assert (c.keys_in_both, c.keys_only_left, c.keys_only_right) == (3, 1, 1)
    assert (c.rows_in_both, c.rows_only_left, c.rows_only_right) == (3, 1, 1)
    assert c.rows_with_differences == 2  # id 3 (name, v) and id 4 (v null on one side)
    assert c.columns["name"].unequal == 1
    assert c.columns["v"].unequal == 2
    assert c.columns["v"].null_one_side == 1
    assert c.columns["v"].max_abs_diff == pytest.approx(0.5)
    d = c.to_dict()
    assert d["columns"]["v"]["unequal"] == 2 and d["columns"]["v"]["max_abs_diff"] == 0.5
    assert c.samples["rows_only_left"] == [{"id": 1, "name": "a", "v": 1.0}]
    # case-insensitive strings make id 3's name equal
    assert compare(left, right, key="id", ignore_case=True).columns["name"].unequal == 0


def test_float_tolerance_edges():
    left = pa.table({"k": [1, 2, 3], "x": [1.0, 1.0, 100.0]})
    right = pa.table({"k": [1, 2, 3], "x": [1.1, 1.2, 101.0]})
    assert compare(left, right, key="k").columns["x"].unequal == 3
    # |1.0-1.1| = 0.1 ≤ 0.1 (edge is equal); 0.2 > 0.1; 1.0 > 0.1
    assert compare(left, right, key="k", abs_tol=0.1 + 1e-12).columns["x"].unequal == 2
    # relative: |100-101| = 1 ≤ 0.01 × 101
    assert compare(left, right, key="k", rel_tol=0.01).columns["x"].unequal == 2
    per_col = compare(left, right, key="k", column_abs_tol={"x": 1.0})
    assert per_col.columns["x"].unequal == 0


def test_nan_null_and_empty_strings():
    left = pa.table(
        {"k": [1, 2, 3, 4], "f": [math.nan, math.nan, None, 1.0], "s": ["", None, "a", "a"]}
    )
    right = pa.table({"k": [1, 2, 3, 4], "f": [math.nan, 1.0, None, None], "s": ["", "", "a", "a"]})
    c = compare(left, right, key="k")
    assert c.columns["f"].unequal == 2  # NaN vs 1.0; 1.0 vs null. NaN vs NaN and null vs null equal
    assert c.columns["f"].null_one_side == 1
    assert c.columns["s"].unequal == 1  # null vs "" differ; "" vs "" equal
    assert c.columns["s"].null_one_side == 1


def test_duplicate_keys_are_reported_and_paired_in_order():
    left = pa.table({"k": [1, 1, 2], "v": ["first", "second", "x"]})
    right = pa.table({"k": [1, 2, 1, 1], "v": ["first", "x", "SECOND", "third"]})
    c = compare(left, right, key="k")
    assert (c.duplicate_keys_left, c.duplicate_keys_right) == (1, 1)
    # pairs: (1,first)-(1,first), (1,second)-(1,SECOND), (2,x)-(2,x); right's 3rd k=1 alone
    assert (c.rows_in_both, c.rows_only_left, c.rows_only_right) == (3, 0, 1)
    assert c.rows_with_differences == 1
    assert c.samples["rows_with_differences"] == [{"k": 1, "v_left": "second", "v_right": "SECOND"}]
    assert c.samples["rows_only_right"] == [{"k": 1, "v": "third"}]


def test_columns_only_on_one_side_and_type_differences(tmp_path):
    put(tmp_path / "l.csv", "id,a,b\n1,5,x\n2,6,y\n")
    put(tmp_path / "r.csv", "id,a,c\n1,5,z\n2,seven,w\n")
    c = compare(tmp_path / "l.csv", tmp_path / "r.csv", key="id")
    assert c.columns_only_left == ["b"] and c.columns_only_right == ["c"]
    assert c.columns_type_differs == {"a": ["int", "string"]}
    assert c.columns["a"].unequal == 1  # "5" == 5 by canonical text; 6 vs "seven" differ


def test_bad_inputs_are_clear_errors(tmp_path):
    put(tmp_path / "l.csv", "id,a\n1,2\n")
    put(tmp_path / "r.csv", "ident,a\n1,2\n")
    put(tmp_path / "s.csv", "id,a\nx,2\n")
    with pytest.raises(CompareError, match="key column 'id' is missing on the right"):
        compare(tmp_path / "l.csv", tmp_path / "r.csv", key="id")
    with pytest.raises(CompareError, match="int on the left but string on the right"):
        compare(tmp_path / "l.csv", tmp_path / "s.csv", key="id")
    with pytest.raises(CompareError, match="does not exist"):
        compare(tmp_path / "l.csv", tmp_path / "nope.csv")
    put(tmp_path / "bad.csv", "id,a\n1,2,3\n")
    with pytest.raises(CompareError, match="wrong number of fields"):
        compare(tmp_path / "l.csv", tmp_path / "bad.csv")
    mixed = pd.DataFrame({"id": [1, 2], "a": ["x", 1]})  # one column, two types
    with pytest.raises(CompareError, match="cannot be converted to a table"):
        compare(mixed, mixed, key="id")
    put(tmp_path / "other.csv", "x,y\n1,2\n")
    with pytest.raises(CompareError, match="no column in common"):
        compare(tmp_path / "l.csv", tmp_path / "other.csv")
    with pytest.raises(CompareError, match="sample must be 0 or more"):
        compare(tmp_path / "l.csv", tmp_path / "l.csv", sample=-1)
    with pytest.raises(CompareError, match="abs_tol must be a finite number"):
        compare(tmp_path / "l.csv", tmp_path / "l.csv", abs_tol=-0.1)
    with pytest.raises(CompareError, match=r"column_rel_tol\[a\] must be"):
        compare(tmp_path / "l.csv", tmp_path / "l.csv", column_rel_tol={"a": float("nan")})


def test_save_differences_writes_complete_lists(tmp_path):
    import pyarrow.parquet as pq

    left = pa.table({"k": list(range(100)), "v": list(range(100))})
    right = pa.table({"k": list(range(5, 105)), "v": [x if x % 10 else -1 for x in range(5, 105)]})
    c = compare(left, right, key="k", sample=2, save_differences=tmp_path / "diffs")
    assert len(c.samples["rows_with_differences"]) == 2
    assert pq.read_table(c.saved["rows_with_differences"]).num_rows == c.rows_with_differences == 9
    assert pq.read_table(c.saved["rows_only_left"]).num_rows == 5
    assert pq.read_table(c.saved["rows_only_right"]).num_rows == 5
    # without a key, with repeats: each list holds exactly the copies counted
    left = pa.table({"v": [1, 1, 1, 2, 3] * 20})  # 1 ×60, 2 ×20, 3 ×20
    right = pa.table({"v": [1, 2, 2, 4] * 20})  # 1 ×20, 2 ×40, 4 ×20
    c = compare(left, right, sample=3, save_differences=tmp_path / "rows")
    assert (c.rows_only_left, c.rows_only_right) == (40 + 20, 20 + 20)
    assert (c.duplicate_rows_left, c.duplicate_rows_right) == (59 + 19 + 19, 19 + 39 + 19)
    assert {k: pq.read_table(p).num_rows for k, p in c.saved.items()} == {
        "rows_only_left": 60,
        "rows_only_right": 40,
        "duplicate_rows_left": 97,
        "duplicate_rows_right": 77,
    }
    assert pq.read_table(c.saved["rows_only_left"]).column("v").to_pylist() == [1] * 40 + [3] * 20


def test_null_keys_match_null_keys():
    """A table compared with itself is equal, null keys included: a null key pairs with a
    null key (as datacompy's merge does), by occurrence when it repeats."""
    t = pa.table({"k": [1, None, 3], "v": ["a", "b", "c"]})
    c = compare(t, t, key="k")
    assert c.equal and c.rows_in_both == 3 and c.keys_in_both == 3
    two = pa.table({"k": [1, None, None], "v": ["a", "b", "c"]})
    c = compare(two, two, key="k")
    assert c.equal and c.rows_in_both == 3 and c.keys_in_both == 2
    assert c.duplicate_keys_left == c.duplicate_keys_right == 1
    c = compare(t, pa.table({"k": [1.0, None, 4.0], "v": ["a", "x", "c"]}), key="k")
    assert (c.rows_in_both, c.rows_only_left, c.rows_only_right) == (2, 1, 1)
    assert c.columns["v"].unequal == 1 and c.samples["rows_with_differences"][0]["k"] is None
    # two key columns, one of them null in a row on both sides
    ab = pa.table({"a": [1, 1], "b": ["x", None], "v": [1, 2]})
    assert compare(ab, ab, key="a,b").equal


def test_output_paths_that_cannot_be_written_are_clear_errors(tmp_path):
    put(tmp_path / "l.csv", "id,v\n1,a\n")
    put(tmp_path / "r.csv", "id,v\n1,b\n")
    put(tmp_path / "afile", "")
    with pytest.raises(CompareError, match="is a file"):
        compare(tmp_path / "l.csv", tmp_path / "r.csv", save_differences=tmp_path / "afile")
    args = ["compare", str(tmp_path / "l.csv"), str(tmp_path / "r.csv"), "--key", "id"]
    out = run_cli(*args, "-o", str(tmp_path))  # a folder
    assert out.returncode == 2 and "is a folder" in out.stderr and "bug" not in out.stderr
    out = run_cli(*args, "--save-differences", str(tmp_path / "afile"))
    assert out.returncode == 2 and "is a file" in out.stderr and "bug" not in out.stderr
    out = run_cli(*args, "--input-format", "xml")
    assert out.returncode == 2 and "--input-format 'xml': Input should be" in out.stderr


def test_progress_reports_each_stage_start_and_end(tmp_path):
    put(tmp_path / "l.csv", "id,a\n1,2\n2,3\n")
    calls = []
    c = compare(
        tmp_path / "l.csv",
        pa.table({"id": [1, 2], "a": [2, 4]}),
        key="id",
        progress=lambda *a: calls.append(a),
    )
    assert c.rows_with_differences == 1
    stages = [stage for stage, *_ in calls]
    assert stages == ["left", "left", "right", "right", "compare", "compare", "samples", "samples"]
    assert [(done, total) for _, done, total, _ in calls] == [(0, 1), (1, 1)] * 4
    assert calls[0][3] == f"reading {tmp_path / 'l.csv'}" and calls[4][3] == "matching rows by id"


def _frames(n: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    left = pd.DataFrame(
        {
            "id": ids,
            "price": np.round(rng.uniform(0, 100, n), 2),
            "qty": rng.integers(0, 50, n),
            "name": rng.choice(["a", "b", "c", "d"], n),
        }
    )
    right = left.copy()
    right = right.drop(index=rng.choice(n, n // 50, replace=False))  # 2% removed
    extra = pd.DataFrame({"id": np.arange(n, n + n // 40), "price": 1.0, "qty": 1, "name": "z"})
    right = pd.concat([right, extra], ignore_index=True)  # 2.5% added
    change = rng.choice(len(right) - len(extra), n // 30, replace=False)
    right.loc[change, "price"] = right.loc[change, "price"] + 0.5  # ~3% changed price
    change2 = rng.choice(len(right) - len(extra), n // 60, replace=False)
    right.loc[change2, "name"] = "q"
    right.loc[change2[: n // 200], "qty"] = None
    right = right.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return left, right


@pytest.mark.parametrize("seed", [0, 1])
def test_counts_agree_with_datacompy(seed):
    datacompy = pytest.importorskip("datacompy")
    left, right = _frames(5000, seed)
    oracle = datacompy.PandasCompare(left, right, join_columns="id")
    c = compare(left, right, key="id")
    assert c.rows_in_both == oracle.intersect_rows.shape[0]
    assert c.rows_only_left == oracle.df1_unq_rows.shape[0]
    assert c.rows_only_right == oracle.df2_unq_rows.shape[0]
    assert c.rows_with_differences == oracle.intersect_rows.shape[0] - oracle.count_matching_rows()
    assert c.rows_with_differences > 100  # the generated data has real differences
    stats = {s["column"]: s for s in oracle.column_stats}
    for col in ("price", "qty", "name"):
        assert c.columns[col].unequal == stats[col]["unequal_cnt"], col
    assert c.columns["price"].max_abs_diff == pytest.approx(stats["price"]["max_diff"])


def test_project_versions_and_record(tmp_path, make_project):
    p = make_project('key = ["id"]\n')
    put(tmp_path / "incoming/a.csv", "id,v\n1,a\n2,b\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "id,v\n2,B\n3,c\n")
    p.ingest()
    c = p.compare("d@1", "d@latest", key="id", record=True)
    assert (c.rows_in_both, c.rows_only_left, c.rows_only_right, c.rows_with_differences) == (
        2,
        0,
        1,
        1,
    )
    run = p.run_record(c.options["run_id"])
    assert run["kind"] == "compare" and run["status"] == "differences"
    assert any("compared 'd@1' with 'd@latest'" in line for line in run["story"])
    with pytest.raises(CompareError, match="no version 9"):
        p.compare("d@1", "d@9")


def test_cli_compare_exit_codes_and_formats(tmp_path):
    put(tmp_path / "l.csv", "date,ticker,price\n2024-01-01,A,1.5\n2024-01-01,B,2\n")
    put(tmp_path / "r.parquet", b"")
    pq_path = tmp_path / "r.parquet"
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"date": ["2024-01-01", "2024-01-01"], "ticker": ["A", "B"], "price": [1.5, 2.5]}),
        pq_path,
    )
    same = run_cli(
        "compare", str(tmp_path / "l.csv"), str(tmp_path / "l.csv"), "--key", "date,ticker"
    )
    assert same.returncode == 0, same.stderr
    diff = run_cli(
        "compare", str(tmp_path / "l.csv"), str(pq_path), "--key", "date,ticker", "--format", "json"
    )
    assert diff.returncode == 1, diff.stderr
    data = json.loads(diff.stdout)
    for k in (
        "rows_left",
        "rows_right",
        "rows_in_both",
        "rows_only_left",
        "rows_only_right",
        "duplicate_rows_left",
        "duplicate_rows_right",
        "keys_in_both",
        "keys_only_left",
        "keys_only_right",
        "duplicate_keys_left",
        "duplicate_keys_right",
        "rows_with_differences",
        "columns_only_left",
        "columns_only_right",
        "columns",
    ):
        assert k in data, k
    assert data["columns"]["price"] == {
        **data["columns"]["price"],
        "unequal": 1,
        "max_abs_diff": 0.5,
    }
    html_out = tmp_path / "report.html"
    r = run_cli(
        "compare",
        str(tmp_path / "l.csv"),
        str(pq_path),
        "--key",
        "date,ticker",
        "--format",
        "html",
        "-o",
        str(html_out),
    )
    assert r.returncode == 1
    page = html_out.read_text()
    assert "<svg" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    md = run_cli("compare", str(tmp_path / "l.csv"), str(pq_path), "--format", "markdown")
    assert md.returncode == 1 and "| rows only left | 1 |" in md.stdout
    bad = run_cli("compare", str(tmp_path / "l.csv"), str(pq_path), "--key", "nope")
    assert bad.returncode == 2 and "key column 'nope'" in bad.stderr


def test_csv_folders_are_read_in_one_pass_and_pair_duplicates_in_file_order(tmp_path, caplog):
    """CSV sides are parsed by their typing pass (no staged copy); the order that pairs
    duplicate keys is still path, then line: checked across files of different sizes."""
    import logging

    left_rows, right_rows = [], []
    for i in range(6):
        n = 1 + (i * 37) % 90
        lines = [(k % 5, f"L{i}-{k}") for k in range(n)]
        put(tmp_path / f"l/p{i}.csv", "k,v\n" + "".join(f"{k},{v}\n" for k, v in lines))
        put(tmp_path / f"r/p{i}.csv", "k,v\n" + "".join(f"{k},{v}\n" for k, v in lines))
        left_rows += lines
        right_rows += lines
    with caplog.at_level(logging.INFO, logger="headwater"):
        c = compare(tmp_path / "l", tmp_path / "r", key="k")
    assert "one pass failed" not in caplog.text
    # identical folders: every k-th occurrence pairs with the same row, in path/line order
    assert c.equal and c.rows_in_both == len(left_rows) and c.rows_with_differences == 0
    assert c.duplicate_keys_left == c.duplicate_keys_right == 5
    # the same lines of one file in reverse order on the right: the same rows, but the
    # k-th occurrences of a key now hold other values, so pairs differ
    lines = [(k % 5, f"L2-{k}") for k in range(1 + (2 * 37) % 90)]
    put(tmp_path / "r/p2.csv", "k,v\n" + "".join(f"{k},{v}\n" for k, v in reversed(lines)))
    c2 = compare(tmp_path / "l", tmp_path / "r", key="k")
    assert c2.rows_in_both == len(left_rows) and c2.rows_with_differences > 0


def test_sorted_key_shortcut_is_exact(tmp_path):
    """Duplicate keys are first looked for by walking the keys once in storage order
    (no hashing): runs of strictly ascending keys whose ranges do not overlap prove there
    are none; anything else (overlap, a repeat, a null, floats) falls back to counting."""
    from headwater.compare._core import _rows_if_sorted_unique
    from headwater.config import EngineConfig
    from headwater.engines import connect

    engine = connect(EngineConfig(), tmp_path)

    names = iter(range(100))

    def check(columns: dict, key: list[str]):
        name = f"t{next(names)}"
        engine.raw.register(name + "_src", pa.table(columns))
        engine.raw.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_src")
        return _rows_if_sorted_unique(engine, engine.con.table(name), key)

    assert check({"k": list(range(10))}, ["k"]) == 10
    # three runs (say, three files) whose ranges are disjoint, not in range order
    assert check({"k": [20, 21, 22, 1, 2, 3, 10, 11]}, ["k"]) == 8
    # two runs whose ranges overlap: a duplicate may hide there (here: none, still None)
    assert check({"k": [1, 5, 9, 2, 6]}, ["k"]) is None
    assert check({"k": [1, 2, 3, 3, 4]}, ["k"]) is None  # a repeat inside a run
    assert check({"k": [1, 2, None, 4]}, ["k"]) is None
    assert check({"k": [3.0, 4.0]}, ["k"]) is None  # floats are not checked this way
    assert check({"k": pa.array([], pa.int64())}, ["k"]) == 0
    assert check({"s": ["a", "b", "ba", "c"]}, ["s"]) == 4
    # lexicographic on two columns: the first repeats, the second orders within it
    assert check({"a": [1, 1, 2, 2], "b": ["x", "y", "a", "b"]}, ["a", "b"]) == 4
    assert check({"a": [1, 1, 2, 2], "b": ["x", "x", "a", "b"]}, ["a", "b"]) is None
    assert check({"a": [1, 2, 1], "b": ["x", "a", "y"]}, ["a", "b"]) is None
    engine.close()


def test_repeated_keys_are_found_wherever_they_hide():
    """A repeated key is found and paired by occurrence wherever it is: among matched
    rows that are identical (never stored), among unmatched rows, as null keys, and in a
    key of two columns."""

    def dups(left: dict, right: dict, key: str = "k") -> tuple[int, int, int]:
        c = compare(pa.table(left), pa.table(right), key=key)
        return c.duplicate_keys_left, c.duplicate_keys_right, c.rows_in_both

    # identical matched rows: 2 copies on the left, 1 on the right (2·1 joined rows);
    # the first copy pairs, the second is only on the left
    one_a = {"k": [1, 1, 2], "v": ["a", "a", "b"]}
    assert dups(one_a, {"k": [1, 2], "v": ["a", "b"]}) == (1, 0, 2)
    # 2 copies on each side (2·2 joined rows): first pairs with first, second with second
    assert dups(one_a, one_a) == (1, 1, 3)
    # a repeat only among keys the other side does not have
    assert dups({"k": [1, 9, 9], "v": ["a", "x", "y"]}, {"k": [1], "v": ["a"]}) == (1, 0, 1)
    assert dups({"k": [1], "v": ["a"]}, {"k": [1, 7, 7], "v": ["a", "x", "y"]}) == (0, 1, 1)
    # a null key is a key like any other: two of them on one side are one repeated key
    assert dups({"k": [1, None, None], "v": ["a", "x", "y"]}, {"k": [1], "v": ["a"]}) == (1, 0, 1)
    assert dups({"k": [1, None], "v": ["a", "x"]}, {"k": [1, None], "v": ["a", "y"]}) == (0, 0, 2)
    # two key columns: (1, x) repeats on the right, (1, y) does not
    two = {"a": [1, 1], "b": ["x", "y"], "v": [0, 0]}
    c = compare(
        pa.table(two), pa.table({"a": [1, 1, 1], "b": ["x", "y", "x"], "v": [0, 0, 0]}), key="a,b"
    )
    assert (c.duplicate_keys_left, c.duplicate_keys_right, c.rows_in_both) == (0, 1, 2)
    assert c.rows_only_right == 1 and c.keys_in_both == 2 and c.keys_only_right == 0
    # no repeat: the first pass stands (same numbers either way)
    c = compare(pa.table(two), pa.table(two), key="a,b")
    assert c.equal and (c.duplicate_keys_left, c.duplicate_keys_right) == (0, 0)


def test_duplicate_keys_across_sorted_files_are_found(tmp_path):
    """Each file sorted by key, overlapping ranges: the shortcut cannot prove uniqueness
    and the exact count finds the keys the files share; disjoint ranges need no count."""
    put(tmp_path / "l/a.csv", "k,v\n" + "".join(f"{k},a{k}\n" for k in range(1, 11)))
    put(tmp_path / "l/b.csv", "k,v\n" + "".join(f"{k},b{k}\n" for k in range(8, 13)))
    put(tmp_path / "r/a.csv", "k,v\n" + "".join(f"{k},a{k}\n" for k in range(1, 11)))
    put(tmp_path / "r/b.csv", "k,v\n" + "".join(f"{k},b{k}\n" for k in range(11, 13)))
    c = compare(tmp_path / "l", tmp_path / "r", key="k")
    assert c.duplicate_keys_left == 3 and c.duplicate_keys_right == 0
    assert c.rows_left == 15 and c.rows_right == 12


def test_reports_show_tricky_values_as_they_are():
    """A value with "|", a line break or HTML in it stays one Markdown cell and inert
    text in the HTML page (its embedded JSON included), and round-trips through that JSON."""
    import re

    from headwater.reports.compare import to_html, to_markdown

    tricky = ["<script>alert(1)</script>", "a|b\nc", "x &amp; <!-- y"]
    left = pa.table({"id": [1, 2, 3], "v": tricky})
    c = compare(left, pa.table({"id": [1, 2, 3], "v": ["p", "q", "r"]}), key="id")
    md = to_markdown(c)
    rows = [ln for ln in md.splitlines() if ln.startswith("| 1 ") or ln.startswith("| 2 ")]
    assert rows == [
        "| 1 | &lt;script>alert(1)&lt;/script> | p |",
        "| 2 | a\\|b\\nc | q |",
    ]
    page = to_html(c)
    assert "<script>alert" not in page and "<!-- y" not in page
    data = re.search(r'id="comparison-data">(.*?)</script>', page, re.S).group(1)
    got = [r["v_left"] for r in json.loads(data)["samples"]["rows_with_differences"]]
    assert got == tricky


@pytest.mark.parametrize("seed", [1, 2])
def test_key_counts_with_repeated_keys_match_sets(seed):
    """With repeated keys the key counts come from each side's first row of a key (its k
    = 0 row); checked against Python sets on random keys, nulls included."""
    import random

    rng = random.Random(seed)

    def side(n: int) -> pa.Table:
        keys = [rng.choice([None, *range(40)]) for _ in range(n)]
        return pa.table({"k": keys, "v": [rng.randint(0, 2) for _ in range(n)]})

    left, right = side(120), side(90)
    c = compare(left, right, key="k")
    lk, rk = set(left.column("k").to_pylist()), set(right.column("k").to_pylist())
    assert c.duplicate_keys_left and c.duplicate_keys_right  # the case under test
    assert (c.keys_in_both, c.keys_only_left, c.keys_only_right) == (
        len(lk & rk),
        len(lk - rk),
        len(rk - lk),
    )
    per_key = {
        k: (left.column("k").to_pylist().count(k), right.column("k").to_pylist().count(k))
        for k in lk | rk
    }
    assert c.rows_in_both == sum(min(a, b) for a, b in per_key.values())
    assert c.rows_only_left == sum(max(a - b, 0) for a, b in per_key.values())


def test_remote_inputs_are_compared_and_their_copies_removed(tmp_path, monkeypatch):
    """An fsspec input is copied locally for the comparison; the copy (and the folder it
    went to) is gone afterwards, also when the comparison fails."""
    import tempfile
    import uuid

    import fsspec

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    bucket = f"memory://bucket-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    with fs.open(f"{bucket}/a.csv", "w") as fh:
        fh.write("id,v\n1,a\n2,b\n")
    put(tmp_path / "b.csv", "id,v\n1,a\n2,c\n")
    c = compare(f"{bucket}/a.csv", tmp_path / "b.csv", key="id")
    assert (c.rows_in_both, c.rows_with_differences) == (2, 1)
    assert not list((tmp_path / "tmp").glob("headwater-compare-*"))
    with pytest.raises(CompareError, match="'nope' is missing on the left"):
        compare(f"{bucket}/a.csv", tmp_path / "b.csv", key="nope")
    assert not list((tmp_path / "tmp").glob("headwater-compare-*"))
