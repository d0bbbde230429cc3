"""Remote sources go through fsspec (here its in-memory filesystem, a real fsspec store)."""

import uuid

import fsspec

from tests.conftest import write_toml


def test_fsspec_source_is_listed_staged_hashed_and_ingested(tmp_path):
    from headwater import Project

    bucket = f"memory://bucket-{uuid.uuid4().hex[:8]}/in"
    fs = fsspec.filesystem("memory")
    with fs.open(f"{bucket}/a.csv", "w") as fh:
        fh.write("x,y\n1,a\n2,b\n")
    with fs.open(f"{bucket}/sub/b.jsonl", "w") as fh:
        fh.write('{"x": 3, "y": "c"}\n')
    write_toml(tmp_path, f'[[sources]]\npath = "{bucket}"\n[dataset]\nsettle_seconds = 0\n')
    p = Project.open(tmp_path)
    r = p.ingest()
    assert (r.status, r.files_new, r.rows_added) == ("ok", 2, 3)
    assert all(f["path"].startswith("memory://") for f in r.files)
    assert sorted(row["x"] for row in p.read().to_pylist()) == [1, 2, 3]
    # staged copies are removed after the run
    assert not list((tmp_path / ".headwater" / "staging").glob("run-*"))
    again = p.ingest()
    assert (again.files_skipped, again.rows_read) == (2, 0)
    fs.rm(f"{bucket}/a.csv")
    gone = p.ingest()
    assert gone.files_missing == 1


def test_unreachable_remote_source_is_recorded_not_mistaken_for_deletions(tmp_path):
    from headwater import Project

    bucket = f"memory://bucket-{uuid.uuid4().hex[:8]}/in"
    fs = fsspec.filesystem("memory")
    with fs.open(f"{bucket}/a.csv", "w") as fh:
        fh.write("x\n1\n")
    write_toml(
        tmp_path,
        f'[[sources]]\npath = "{bucket}"\n[dataset]\nsettle_seconds = 0\non_missing = "retract"\n',
    )
    p = Project.open(tmp_path)
    p.ingest()
    fs.rm(bucket, recursive=True)
    r = p.ingest()
    # its only source could not be listed: nothing was achieved, so the run failed
    assert r.status == "failed" and "does not exist" in r.source_errors[0]["reason"]
    assert r.files_missing == 0 and r.rows_retracted == 0
    assert p.read().num_rows == 1
