"""Bad input: each is recorded against its file with a clear reason, and the run goes on.

With --strict the run fails and publishes nothing.
"""

import os

import pytest

from headwater import ValidationError
from tests.conftest import put


def _good(tmp_path):
    put(tmp_path / "incoming/good.csv", "id,name\n1,a\n2,b\n")


def _failed_reason(result, name):
    [f] = [f for f in result.files if f["path"].endswith(name)]
    assert f["status"] == "failed", f
    return f["reason"]


def test_empty_and_header_only_files_are_zero_rows_not_errors(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    put(tmp_path / "incoming/empty.csv", "")
    put(tmp_path / "incoming/header_only.csv", "id,name\n")
    r = p.ingest()
    assert (r.status, r.files_failed, r.files_new, r.rows_added) == ("ok", 0, 3, 2)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("ragged.csv", "id,name\n1,a\n2,b,extra\n3\n", "wrong number of fields"),
        ("quotes.csv", 'id,name\n1,"unterminated\n2,b\n', "quot"),
        ("latin.csv", "id,name\n1,caf\xe9\n".encode("latin-1"), "not valid utf-8"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        ("lacking.csv", "id,other\n1,x\n", "lacks column(s) 'name'"),
        ("corrupt.parquet", b"PAR1 this is not really parquet", "not a readable Parquet"),
        ("broken.jsonl", '{"id": 1, "name": "a"}\n{"id": 2, "name": \n', "is not valid jsonl"),
    ],
)
def test_bad_file_is_recorded_and_the_rest_goes_on(make_project, tmp_path, name, content, expected):
    p = make_project("""
        [dataset.columns.name]
        not_null = true
    """)
    _good(tmp_path)
    put(tmp_path / "incoming" / name, content)
    r = p.ingest()
    assert (r.status, r.files_failed, r.rows_added) == ("partial", 1, 2), r.files
    reason = _failed_reason(r, name)
    assert expected in reason
    recorded = next(f for f in p.run_record(r.run_id)["files"] if f["path"].endswith(name))
    assert recorded["status"] == "failed" and recorded["reason"] == reason
    # the failed file is tried again next run (it may have been fixed)
    assert p.ingest().files_failed == 1


def test_wrong_encoding_is_read_when_configured(make_project, tmp_path):
    p = make_project(sources='[[sources]]\npath = "incoming"\nencoding = "latin-1"\n')
    put(tmp_path / "incoming/latin.csv", "id,name\n1,caf\xe9\n".encode("latin-1"))
    p.ingest()
    assert p.read().to_pylist() == [{"id": 1, "name": "café"}]


def test_unreadable_file_is_recorded(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    victim = put(tmp_path / "incoming/vanishing.csv", "id,name\n9,z\n")

    def progress(stage, done, total, detail):
        # the file disappears after it was listed and hashed, before it is read
        if stage == "hash" and detail.endswith("vanishing.csv") and victim.exists():
            victim.unlink()

    r = p.ingest(progress=progress)
    assert r.files_failed == 1 and r.rows_added == 2
    reason = _failed_reason(r, "vanishing.csv")
    assert "No such file" in reason and "moved or removed" in reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file without permissions")
def test_file_without_read_permission_is_recorded(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    f = put(tmp_path / "incoming/secret.csv", "id,name\n1,a\n")
    f.chmod(0)
    r = p.ingest()
    assert "Permission denied" in _failed_reason(r, "secret.csv")


def test_missing_source_path_is_recorded_and_other_sources_go_on(make_project, tmp_path):
    p = make_project(sources='[[sources]]\npath = "incoming"\n[[sources]]\npath = "nowhere"\n')
    _good(tmp_path)
    r = p.ingest()
    assert r.status == "partial" and r.rows_added == 2
    assert "does not exist" in r.source_errors[0]["reason"]


def test_file_changing_while_read_is_left_for_the_next_run(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    moving = put(tmp_path / "incoming/moving.csv", "id,name\n5,e\n")

    def progress(stage, done, total, detail):
        if stage == "read" and moving.read_text().count("\n") == 2:
            with open(moving, "a") as fh:
                fh.write("6,f\n")

    r = p.ingest(progress=progress)
    assert r.files_deferred == 1 and r.rows_added == 2
    [f] = [f for f in r.files if f["path"].endswith("moving.csv")]
    assert f["status"] == "deferred" and "changed while it was being read" in f["reason"]
    os.utime(moving, (1, 1))
    r2 = p.ingest()
    assert r2.rows_added == 2
    assert sorted(x["id"] for x in p.read().to_pylist()) == [1, 2, 5, 6]


def test_strict_run_fails_and_publishes_nothing(make_project, tmp_path):
    p = make_project()
    _good(tmp_path)
    p.ingest()
    put(tmp_path / "incoming/more.csv", "id,name\n3,c\n")
    put(tmp_path / "incoming/ragged.csv", "id,name\n1,a,b\n")
    with pytest.raises(ValidationError) as info:
        p.ingest(strict=True)
    assert "nothing was published" in str(info.value)
    assert p.versions()[0]["version"] == 1 and len(p.versions()) == 1
    run = p.history(limit=1)[0]
    assert run["status"] == "failed" and run["id"] == info.value.run_id
    # a non-strict run afterwards still sees more.csv as new
    r = p.ingest()
    assert r.rows_added == 1 and r.files_failed == 1


def test_strict_run_fails_on_rejected_rows_and_records_them(make_project, tmp_path):
    p = make_project('[dataset.columns.id]\ntype = "int"\n')
    put(tmp_path / "incoming/a.csv", "id,name\n1,a\nx,b\n")
    with pytest.raises(ValidationError):
        p.ingest(strict=True)
    run_id = p.history(limit=1)[0]["id"]
    assert [r["value"] for r in p.rejects(run_id)] == ["x"]
    assert p.versions() == []
