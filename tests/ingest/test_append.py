"""Append mode (no key): whole-row de-duplication, provenance, versions, files."""

import os

import pyarrow.parquet as pq

from headwater import dataset as ds_mod
from tests.conftest import age, put


def rows(project, version=None, provenance=False):
    return project.read(version, provenance=provenance).to_pylist()


def test_first_ingest_cleans_types_and_dedups(make_project, tmp_path):
    p = make_project()
    # a.csv: 4 rows; row 3 duplicates row 1 after trimming; "NA" → null
    put(
        tmp_path / "incoming/a.csv",
        """
        Id, Name ,Score
        1,alice,1.5
        2, bob ,NA
        1,alice ,1.5
        3,carol,2
    """,
    )
    # b.csv repeats a row of a.csv: a duplicate across files
    put(tmp_path / "incoming/b.csv", "id,name,score\n3,carol,2.0\n4,dave,\n")
    r = p.ingest()
    assert r.status == "ok"
    assert (r.files_new, r.rows_read, r.duplicates_dropped, r.rows_added) == (2, 6, 2, 4)
    assert r.dataset_version == 1 and r.dataset_rows == 4
    data = rows(p)
    assert data == [
        {"id": 1, "name": "alice", "score": 1.5},
        {"id": 2, "name": "bob", "score": None},
        {"id": 3, "name": "carol", "score": 2.0},
        {"id": 4, "name": "dave", "score": None},
    ]
    assert r.schema_changes == {"pinned": {"id": "int", "name": "string", "score": "float"}}


def test_rows_carry_provenance_to_their_file_and_record(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n10\n20\n30\n")
    put(tmp_path / "incoming/b.csv", "x\n40\n")
    r = p.ingest()
    got = rows(p, provenance=True)
    files = {f["path"]: f for f in p.run_record(r.run_id)["files"]}
    a_id = files[str(tmp_path / "incoming/a.csv")]["id"]
    b_id = files[str(tmp_path / "incoming/b.csv")]["id"]
    assert [(g["x"], g["_hw_file"], g["_hw_record"], g["_hw_run"]) for g in got] == [
        (10, a_id, 1, r.run_id),
        (20, a_id, 2, r.run_id),
        (30, a_id, 3, r.run_id),
        (40, b_id, 1, r.run_id),
    ]
    assert files[str(tmp_path / "incoming/a.csv")]["hash"].startswith("sha256:")


def test_second_run_takes_only_new_files_and_dedups_against_the_dataset(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x,y\n1,a\n2,b\n")
    first = p.ingest()
    put(tmp_path / "incoming/b.csv", "x,y\n2,b\n3,c\n")
    second = p.ingest()
    assert (second.files_new, second.files_skipped) == (1, 1)
    assert (second.rows_read, second.duplicates_dropped, second.rows_added) == (2, 1, 1)
    assert second.dataset_version == 2 and second.dataset_rows == 3
    third = p.ingest()
    assert (third.files_new, third.rows_read, third.dataset_version) == (0, 0, 2)
    # earlier versions stay readable
    assert [r["x"] for r in rows(p, first.dataset_version)] == [1, 2]
    assert [r["x"] for r in rows(p)] == [1, 2, 3]


def test_nothing_new_touches_no_data_files(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n")
    p.ingest()
    parts = sorted(os.listdir(tmp_path / "data/d/parts"))
    r = p.ingest()
    assert r.dataset_version == 1 and r.files_skipped == 1 and r.rows_read == 0
    assert sorted(os.listdir(tmp_path / "data/d/parts")) == parts


def test_changed_file_retracts_its_earlier_rows(make_project, tmp_path):
    p = make_project()
    f = put(tmp_path / "incoming/a.csv", "x\n1\n2\n")
    put(tmp_path / "incoming/b.csv", "x\n9\n")
    p.ingest()
    put(f, "x\n2\n3\n")
    age(f, 100)
    r = p.ingest()
    assert (r.files_changed, r.rows_retracted, r.rows_added) == (1, 2, 2)
    assert sorted(x["x"] for x in rows(p)) == [2, 3, 9]
    assert r.dataset_rows == 3
    changed = next(f for f in r.files if f["status"] == "changed")
    assert changed["rows_retracted"] == 2


def test_touched_file_with_same_content_is_skipped(make_project, tmp_path):
    p = make_project()
    f = put(tmp_path / "incoming/a.csv", "x\n1\n")
    p.ingest()
    age(f, 10)
    r = p.ingest()
    assert r.files_skipped == 1 and r.rows_read == 0 and r.dataset_version == 1
    r2 = p.ingest()  # the new mtime was remembered: the cheap check suffices now
    assert r2.files_skipped == 1 and not [x for x in r2.files if x["status"] == "skipped"]


def test_same_content_at_a_new_path_is_an_alias(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n2\n")
    p.ingest()
    put(tmp_path / "incoming/copy.csv", "x\n1\n2\n")
    r = p.ingest()
    assert (r.files_alias, r.rows_read, r.rows_added, r.dataset_version) == (1, 0, 0, 1)
    alias = next(f for f in r.files if f["status"] == "alias")
    assert "a.csv" in alias["reason"]


def test_vanished_file_is_kept_by_default_and_recorded(make_project, tmp_path):
    p = make_project()
    f = put(tmp_path / "incoming/a.csv", "x\n1\n")
    put(tmp_path / "incoming/b.csv", "x\n2\n")
    p.ingest()
    f.unlink()
    r = p.ingest()
    assert r.files_missing == 1 and r.rows_retracted == 0
    assert sorted(x["x"] for x in rows(p)) == [1, 2]
    files = p.run_record(r.run_id)["files"]
    assert [x["status"] for x in files] == ["missing"]
    assert p.ingest().files_missing == 0  # recorded once


def test_vanished_file_is_retracted_when_configured(make_project, tmp_path):
    p = make_project('on_missing = "retract"\n')
    f = put(tmp_path / "incoming/a.csv", "x\n1\n")
    put(tmp_path / "incoming/b.csv", "x\n2\n")
    p.ingest()
    f.unlink()
    r = p.ingest()
    assert (r.files_missing, r.rows_retracted, r.dataset_rows) == (1, 1, 1)
    assert [x["x"] for x in rows(p)] == [2]


def test_recent_file_is_deferred_to_the_next_run(make_project, tmp_path):
    p = make_project("settle_seconds = 1\n")
    put(tmp_path / "incoming/a.csv", "x\n1\n", old=False)

    def still_writing(stage, done, total, detail):
        if stage == "settle" and not done:  # it changes while ingest waits for it to settle
            os.utime(tmp_path / "incoming/a.csv")

    r = p.ingest(progress=still_writing)
    assert r.files_deferred == 1 and r.rows_read == 0 and r.dataset_version is None
    age(tmp_path / "incoming/a.csv")
    assert p.ingest().rows_added == 1


def test_formats_jsonl_json_parquet_tsv_and_compressed(make_project, tmp_path):
    import gzip

    import pyarrow as pa
    import zstandard

    p = make_project()
    put(tmp_path / "incoming/a.jsonl", '{"id": 1, "v": "x"}\n{"id": 2, "v": null}\n')
    put(tmp_path / "incoming/b.json", '[{"id": 3, "v": "z"}]')
    pq.write_table(pa.table({"id": [4], "v": ["w"]}), tmp_path / "incoming/c.parquet")
    age(tmp_path / "incoming/c.parquet")
    put(tmp_path / "incoming/d.tsv", "id\tv\n5\tq\n")
    put(tmp_path / "incoming/e.csv.gz", gzip.compress(b"id,v\n6,g\n"))
    put(tmp_path / "incoming/f.csv.zst", zstandard.ZstdCompressor().compress(b"id,v\n7,s\n"))
    put(tmp_path / "incoming/README.md", "not data")
    r = p.ingest()
    assert r.files_failed == 0, r.files
    assert (r.files_new, r.files_ignored, r.rows_added) == (6, 1, 7)
    assert [(x["id"], x["v"]) for x in sorted(rows(p), key=lambda x: x["id"])] == [
        (1, "x"),
        (2, None),
        (3, "z"),
        (4, "w"),
        (5, "q"),
        (6, "g"),
        (7, "s"),
    ]


def test_byte_order_mark_is_not_part_of_the_first_column_name(make_project, tmp_path):
    """Spreadsheet exports start UTF-8 CSV files with a byte order mark: it must not end up
    in the first column's name (a second "id" column), nor in its first value."""
    p = make_project()
    (tmp_path / "incoming/bom.csv").write_bytes(b"\xef\xbb\xbfid,v\r\n1,a\r\n")
    put(tmp_path / "incoming/plain.csv", "id,v\n2,b\n")
    r = p.ingest()
    assert (r.files_failed, r.rows_added) == (0, 2)
    assert rows(p) == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]


def test_empty_header_names_become_positional_names(make_project, tmp_path):
    """A trailing delimiter (or an empty header cell) names a column by its position, as
    for files without a header, instead of failing the file with a parser error."""
    p = make_project()
    put(tmp_path / "incoming/trail.csv", "id,v,\n1,a,\n")
    put(tmp_path / "incoming/gaps.csv", "id,,\n2,b,c\n")
    r = p.ingest()
    assert (r.files_failed, r.rows_added) == (0, 2)
    got = sorted(rows(p), key=lambda x: x["id"])
    assert got == [
        {"id": 1, "v": "a", "column_2": None, "column_3": None},
        {"id": 2, "v": None, "column_2": "b", "column_3": "c"},
    ]


def test_a_deleted_data_file_is_a_clear_error_and_rebuild_recovers(make_project, tmp_path):
    """A part file removed by hand: reading the version says which file is missing (not an
    engine error about patterns), ingest refuses and records it, --rebuild recovers."""
    import pytest

    from headwater import ProjectError, compare

    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n")
    p.ingest()
    for part in (tmp_path / "data/d/parts").glob("*.parquet"):
        part.unlink()
    with pytest.raises(ProjectError, match=r"dataset file 'parts/.*\.parquet' is missing"):
        p.export(tmp_path / "out.csv")
    with pytest.raises(ProjectError, match="is missing"):
        compare("d@1", "d@1", project=p)
    put(tmp_path / "incoming/b.csv", "x\n2\n")
    with pytest.raises(ProjectError, match="is missing") as err:
        p.ingest()
    assert "--rebuild" in (err.value.hint or "")
    assert p.history()[0]["status"] == "failed"
    r = p.ingest(rebuild=True)
    assert (r.status, r.rows_added) == ("ok", 2)
    assert sorted(x["x"] for x in rows(p)) == [1, 2]


def test_export_csv_and_parquet(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x,y\n1,a\n2,b\n")
    p.ingest()
    info = p.export(tmp_path / "out/final.csv")
    assert info["rows"] == 2
    assert (tmp_path / "out/final.csv").read_text().splitlines()[0] == '"x","y"'
    p.export(tmp_path / "out/final.parquet", provenance=True)
    t = pq.read_table(tmp_path / "out/final.parquet")
    assert t.num_rows == 2 and "_hw_file" in t.column_names


def test_manifest_lets_the_data_be_read_without_the_database(make_project, tmp_path):
    import json

    import duckdb

    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n2\n")
    p.ingest()
    f = put(tmp_path / "incoming/a.csv", "x\n2\n5\n")
    age(f, 50)
    p.ingest()
    m = json.loads((tmp_path / "data/d/versions/v000002.json").read_text())
    base = tmp_path / "data/d"
    parts = [str(base / x) for x in m["parts"]]
    gone = [str(base / x) for x in m["retractions"]]
    got = duckdb.sql(
        f"select p.x from read_parquet({parts}, union_by_name=true) p "
        f"anti join read_parquet({gone}) g using (_hw_file, _hw_record) order by p.x"
    ).fetchall()
    assert [g[0] for g in got] == [2, 5]


def test_dry_run_reports_and_writes_nothing(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n")
    r = p.ingest(dry_run=True)
    assert r.dry_run and r.files_new == 1 and r.run_id is None
    assert not (tmp_path / "data").exists()
    assert p.history() == []


def test_rebuild_starts_a_new_line_and_keeps_old_versions(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n2\n")
    p.ingest()
    r = p.ingest(rebuild=True)
    assert (r.files_new, r.rows_added, r.dataset_version, r.dataset_rows) == (1, 2, 2, 2)
    versions = p.versions()
    assert [(v["version"], v["line"], v["parent"]) for v in versions] == [
        (2, 2, None),
        (1, 1, None),
    ]
    assert [x["x"] for x in rows(p, 1)] == [1, 2]
    assert p.ingest().files_skipped == 1


def test_changing_the_key_needs_a_rebuild(make_project, tmp_path):
    """A version line keeps the key it was built with: another key (or a key added to an
    append-mode dataset) is refused, recorded, and changes nothing until --rebuild."""
    import pytest

    from headwater import ConfigError
    from headwater.project import Project

    p = make_project('key = ["id"]\n')
    put(tmp_path / "incoming/a.csv", "id,v\n1,a\n2,b\n")
    assert p.ingest().dataset_version == 1
    toml = tmp_path / "headwater.toml"
    toml.write_text(toml.read_text().replace('key = ["id"]', 'key = ["id", "v"]'))
    p = Project.open(tmp_path)
    put(tmp_path / "incoming/b.csv", "id,v\n1,z\n")
    with pytest.raises(ConfigError, match=r'built with key = \["id"\]') as err:
        p.ingest()
    assert "--rebuild" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="built with"):
        p.ingest(dry_run=True)
    [failed, first] = p.history()
    assert first["status"] == "ok" and failed["status"] == "failed"
    assert "built with" in failed["error"]
    assert [v["version"] for v in p.versions()] == [1]  # nothing was written
    r = p.ingest(rebuild=True)
    assert (r.dataset_version, r.rows_added) == (2, 3)  # (1,a) (2,b) (1,z) under the new key
    assert p.ingest().files_skipped == 2  # the new line carries on normally
    # and from append mode (no key) to a key
    other = tmp_path / "other"
    put(other / "in/a.csv", "id\n1\n")
    body = '[project]\nname = "o"\n[[sources]]\npath = "in"\n[dataset]\nname = "o"\n'
    (other / "headwater.toml").write_text(body + "settle_seconds = 0\n")
    assert Project.open(other).ingest().dataset_version == 1
    (other / "headwater.toml").write_text(body + 'settle_seconds = 0\nkey = ["id"]\n')
    with pytest.raises(ConfigError, match=r"built with no key \(append mode\)"):
        Project.open(other).ingest()


def test_orphan_parts_of_a_crashed_run_are_removed(make_project, tmp_path):
    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n")
    p.ingest()
    with p.writer("ingest") as run:  # a run that wrote half its part and died before the commit
        with p.records.read() as conn:
            orphan = tmp_path / f"data/d/parts/{ds_mod.part_tag(conn, run.id)}.parquet"
        orphan.write_bytes(b"half a file")
    stranger = tmp_path / "data/d/parts/run999999-deadbeef.parquet"  # no run of ours wrote it
    stranger.write_bytes(b"someone else's")
    put(tmp_path / "incoming/b.csv", "x\n2\n")
    r = p.ingest()
    assert r.orphans_removed == 1 and not orphan.exists() and stranger.exists()
    assert sorted(x["x"] for x in rows(p)) == [1, 2]


def test_changed_file_whose_new_content_fails_keeps_its_earlier_rows(make_project, tmp_path):
    p = make_project()
    f = put(tmp_path / "incoming/a.csv", "x,y\n1,a\n2,b\n")
    p.ingest()
    put(f, "x,y\n1,a,oops\n")
    age(f, 100)
    r = p.ingest()
    assert (r.files_failed, r.rows_retracted, r.dataset_version) == (1, 0, 1)
    assert [x["x"] for x in rows(p)] == [1, 2]
    put(f, "x,y\n3,c\n")
    age(f, 50)
    fixed = p.ingest()
    assert (fixed.files_changed, fixed.rows_retracted, fixed.rows_added) == (1, 2, 1)
    assert [x["x"] for x in rows(p)] == [3]


def test_publish_refuses_a_parent_that_moved(make_project, tmp_path):
    import pytest

    from headwater import PublishError
    from headwater import dataset as ds_mod

    p = make_project()
    put(tmp_path / "incoming/a.csv", "x\n1\n")
    p.ingest()
    stale = ds_mod.DatasetState(name="d", version=None, line=1, schema={}, rows=0)
    run_id = p.history(limit=1)[0]["id"]
    with pytest.raises(PublishError, match="moved from version None to 1"), p.records.write() as c:
        ds_mod.publish(
            c,
            name="d",
            dataset_dir=p.config.dataset_dir,
            parent=stale,
            line=1,
            run_id=run_id,
            schema={"x": "int"},
            row_parts=[],
            retraction_parts=[],
            rows_added=0,
            rows_retracted=0,
            lineage={},
        )
    assert [v["version"] for v in p.versions()] == [1]


def test_one_pass_read_numbers_records_exactly_across_many_files(make_project, tmp_path, caplog):
    """CSV files are parsed by the typing pass itself (no staged copy); record numbers
    then come from the row order of that pass: check them on files of different sizes,
    two header layouts (two read groups) and a Parquet file, with no fallback read."""
    import logging

    import pyarrow as pa

    p = make_project()
    expected = {}
    for i in range(24):
        n = 1 + (i * 397) % 1500
        name = f"f{i:02d}.csv"
        if i % 3 == 0:  # a second header layout: columns in another order
            body = "v,k\n" + "".join(f"{i * 10_000 + r},{r}\n" for r in range(1, n + 1))
        else:
            body = "k,v\n" + "".join(f"{r},{i * 10_000 + r}\n" for r in range(1, n + 1))
        put(tmp_path / "incoming" / name, body)
        expected.update({(name, r): i * 10_000 + r for r in range(1, n + 1)})
    pq.write_table(
        pa.table({"k": [1, 2, 3], "v": [900_001, 900_002, 900_003]}),
        tmp_path / "incoming/z.parquet",
    )
    expected.update({("z.parquet", r): 900_000 + r for r in (1, 2, 3)})
    age(tmp_path / "incoming/z.parquet")
    with caplog.at_level(logging.INFO, logger="headwater"):
        r = p.ingest()
    assert "isolating" not in caplog.text
    assert r.status == "ok" and r.rows_added == len(expected)
    paths = {f["id"]: os.path.basename(f["path"]) for f in p.run_record(r.run_id)["files"]}
    got = {
        (paths[g["_hw_file"]], g["_hw_record"]): (g["k"], g["v"]) for g in rows(p, provenance=True)
    }
    # every row is where its own content says it was: k is its line number in its file
    assert got == {key: (key[1], v) for key, v in expected.items()}


def test_one_pass_read_keeps_the_order_of_a_large_csv(make_project, tmp_path):
    """A CSV big enough for DuckDB to parse in parallel chunks (over a million rows):
    record numbers come from the order in which the typing pass writes its rows, so that
    pass must keep file order. An ``IN`` list (the NA tokens) planned as a hash join
    did not: 3 of every 4 rows got another row's record number."""
    import pyarrow.compute as pc

    n = 1_100_000
    path = tmp_path / "incoming" / "big.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("k,v\n")
        for start in range(1, n + 1, 100_000):
            f.write("".join(f"{r},v{r % 7}\n" for r in range(start, min(start + 100_000, n + 1))))
    p = make_project()
    r = p.ingest()
    assert r.status == "ok" and r.rows_read == n
    t = p.read(provenance=True)
    assert t.num_rows == n  # no duplicates: k differs on every line
    # every row is where its own content says it was: k is its line number
    assert pc.all(pc.equal(t["k"], t["_hw_record"])).as_py()


def test_ordered_materialization_refuses_joins_and_ignores_join_in_names(make_project, tmp_path):
    """Record numbers rely on the typing pass keeping scan order, which joins do not: the
    engine refuses an ordered materialization whose plan has a join operator, and
    looks only at operators (a column or folder named "join" is fine)."""
    import pytest

    from headwater.config import EngineConfig
    from headwater.engines import connect

    put(tmp_path / "incoming/join/a.csv", "join,hash_join\n1,x\n2,y\n")
    p = make_project()
    r = p.ingest()
    assert r.status == "ok" and r.rows_added == 2
    engine = connect(EngineConfig(), tmp_path)
    engine.raw.execute("CREATE TEMP TABLE a AS SELECT range AS k, 'x' AS \"join\" FROM range(3)")
    engine.raw.execute("CREATE TEMP TABLE b AS SELECT range AS k, 'w' AS w FROM range(3)")
    a, b = engine.con.table("a"), engine.con.table("b")
    kept = engine.materialize(a, "plain", ordered=True)  # a column named "join": no join
    assert engine.to_pyarrow(kept)["k"].to_pylist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match="HASH_JOIN"):
        engine.materialize(a.join(b, "k"), "joined", ordered=True)
    engine.close()
