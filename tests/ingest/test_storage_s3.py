"""The dataset kept in an S3 bucket (``[dataset] path = "s3://…"``), through fsspec/s3fs,
against a real S3-compatible server: moto in server mode on 127.0.0.1 (``s3_server``).

Each test gets its own bucket. The project's credentials are in ``[storage.s3]``; the
secret is a fresh random string, so that finding it anywhere it should not be is certain.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from headwater import Project
from tests.conftest import put, run_cli, write_toml

LAKE = "lake"


@pytest.fixture
def bucket(s3_server):
    """A fresh bucket: (name, an s3fs filesystem on the server, the secret of the project)."""
    import s3fs

    name = f"hw-{uuid.uuid4().hex[:10]}"
    secret = f"sEcReT-{uuid.uuid4().hex}"
    fs = s3fs.S3FileSystem(endpoint_url=s3_server, key="AKIDHEADWATER", secret=secret)
    fs.mkdir(name)
    return name, fs, secret


def make(root: Path, s3_server: str, bucket: tuple, dataset: str = "", extra: str = "") -> Project:
    name, _, secret = bucket
    write_toml(
        root,
        f"""
        [project]
        name = "t"

        [[sources]]
        path = "incoming"

        [dataset]
        name = "d"
        path = "s3://{name}/{LAKE}"
        settle_seconds = 0
        {dataset}

        [engine]
        threads = 2
        memory_limit = "512MB"

        [storage.s3]
        endpoint_url = "{s3_server}"
        key = "AKIDHEADWATER"
        secret = "{secret}"
        {extra}
        """,
    )
    (root / "incoming").mkdir(exist_ok=True)
    return Project.open(root)


def keys(fs, bucket_name: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(k.removeprefix(f"{bucket_name}/") for k in fs.find(bucket_name))


def test_ingest_into_s3_twice_is_incremental_and_reads_back(tmp_path, s3_server, bucket):
    name, fs, _ = bucket
    p = make(tmp_path, s3_server, bucket)
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n2,b\n")
    first = p.ingest()
    assert (first.status, first.dataset_version, first.rows_added) == ("ok", 1, 2)
    assert first.output == f"s3://{name}/{LAKE}/d"
    put(tmp_path / "incoming/b.csv", "id,x\n3,c\n")
    second = p.ingest()
    assert (second.dataset_version, second.rows_read, second.rows_added) == (2, 1, 1)
    assert sorted(r["id"] for r in p.read().to_pylist()) == [1, 2, 3]
    assert [r["id"] for r in p.read(1).to_pylist()] == [1, 2]
    found = keys(fs, name)
    assert f"{LAKE}/d/headwater-dataset.json" in found
    assert {f"{LAKE}/d/versions/v000001.json", f"{LAKE}/d/versions/v000002.json"} <= set(found)
    assert len([k for k in found if k.startswith(f"{LAKE}/d/parts/")]) == 2
    # nothing of the dataset landed on the local disk (Path("s3://b/x") is "s3:/b/x")
    assert not (tmp_path / "s3:").exists()
    assert not any("parquet" in f.name for f in tmp_path.rglob("*") if ".headwater" not in f.parts)
    assert p.ingest().rows_read == 0  # nothing new: no version
    assert p.versions()[0]["version"] == 2 and p.versions()[0]["location"].startswith("s3://")


def test_upsert_into_s3_retracts_the_superseded_rows(tmp_path, s3_server, bucket):
    name, fs, _ = bucket
    p = make(tmp_path, s3_server, bucket, dataset='key = ["id"]')
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n2,b\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "id,x\n2,B\n3,c\n")
    r = p.ingest()
    assert (r.rows_added, r.rows_retracted) == (2, 1)
    assert {row["id"]: row["x"] for row in p.read().to_pylist()} == {1: "a", 2: "B", 3: "c"}
    assert any(k.startswith(f"{LAKE}/d/retractions/") for k in keys(fs, name))


def test_export_and_compare_versions_of_an_s3_dataset(tmp_path, s3_server, bucket):
    p = make(tmp_path, s3_server, bucket)
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n2,b\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "id,x\n3,c\n")
    p.ingest()
    out = tmp_path / "out.csv"
    done = run_cli("export", "-o", str(out), "--project", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert out.read_text().replace('"', "").splitlines() == ["id,x", "1,a", "2,b", "3,c"]
    old = run_cli(
        "export", "-o", str(tmp_path / "v1.parquet"), "--version", "1", "--project", str(tmp_path)
    )
    assert old.returncode == 0, old.stderr
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "v1.parquet").num_rows == 2
    name, fs, _ = bucket
    url = f"s3://{name}/exports/v2.csv"
    up = run_cli("export", "-o", url, "--project", str(tmp_path))
    assert up.returncode == 0 and url in up.stdout, up.stdout + up.stderr
    assert fs.cat_file(f"{name}/exports/v2.csv").decode() == out.read_text()
    assert not list((tmp_path / ".headwater" / "tmp").glob("export-*"))
    diff = run_cli("compare", "d@1", "d@2", "--key", "id", "--project", str(tmp_path))
    assert diff.returncode == 1, diff.stderr  # 1: differences found
    c = p.compare("d@1", "d@2", key=["id"])
    assert (c.rows_only_left, c.rows_only_right) == (0, 1)
    # an s3:// file against a version, fetched with the project's [storage.s3] options
    fs.pipe_file(f"{name}/other/v.csv", b"id,x\n1,a\n2,z\n3,c\n")
    c = p.compare(f"s3://{name}/other/v.csv", "d@2", key=["id"])
    assert (c.rows_only_left, c.rows_only_right, c.rows_in_both) == (0, 0, 3)
    assert c.rows_with_differences == 1  # id 2: x is "z" in the file, "b" in the version


def test_a_failed_run_leaves_the_last_good_version_and_its_orphans_are_swept(
    tmp_path, s3_server, bucket, monkeypatch
):
    from headwater import dataset as ds_mod

    name, fs, _ = bucket
    p = make(tmp_path, s3_server, bucket)
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    p.ingest()
    put(tmp_path / "incoming/b.csv", "id,x\n2,b\n")

    def crash(*args, **kwargs):
        raise RuntimeError("power cut between the upload and the commit")

    monkeypatch.setattr(ds_mod, "publish", crash)
    with pytest.raises(Exception, match="power cut"):
        p.ingest()
    monkeypatch.undo()
    parts = [k for k in keys(fs, name) if k.startswith(f"{LAKE}/d/parts/")]
    assert len(parts) == 2  # the crashed run's part is in the bucket, not in any version
    q = Project.open(tmp_path)
    assert [r["id"] for r in q.read().to_pylist()] == [1]
    assert q.versions()[0]["version"] == 1
    again = q.ingest()
    assert (again.orphans_removed, again.dataset_version) == (1, 2)
    assert sorted(r["id"] for r in q.read().to_pylist()) == [1, 2]
    assert len([k for k in keys(fs, name) if k.startswith(f"{LAKE}/d/parts/")]) == 2


def test_the_sweep_never_deletes_objects_it_did_not_write(tmp_path, s3_server, bucket):
    name, fs, _ = bucket
    p = make(tmp_path, s3_server, bucket)
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    p.ingest()
    foreign = [
        f"{LAKE}/d/parts/run000001-0123456789ab.parquet",  # our shape, another project's tag
        f"{LAKE}/d/parts/run000999-0123456789ab.parquet",  # a run these records never had
        f"{LAKE}/d/parts/notes.txt",
        f"{LAKE}/d/retractions/run000001-ffffffffffff.parquet",
        f"{LAKE}/d/versions/v999999.tmp",  # a temp name of a version that does not exist
        f"{LAKE}/other/parts/run000001-0123456789ab.parquet",
        "elsewhere.parquet",
    ]
    for k in foreign:
        fs.pipe_file(f"{name}/{k}", b"PAR1 not ours PAR1")
    put(tmp_path / "incoming/b.csv", "id,x\n2,b\n")
    r = p.ingest()
    assert (r.status, r.orphans_removed) == ("ok", 0)
    assert set(foreign) <= set(keys(fs, name))


def test_a_second_project_is_refused_the_dataset_prefix_another_owns(tmp_path, s3_server, bucket):
    first = make(tmp_path / "one", s3_server, bucket)
    put(tmp_path / "one/incoming/a.csv", "id,x\n1,a\n")
    first.ingest()
    second = make(tmp_path / "two", s3_server, bucket)
    put(tmp_path / "two/incoming/a.csv", "id,x\n9,z\n")
    done = run_cli("ingest", "--project", str(tmp_path / "two"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "belongs to another project" in done.stdout + done.stderr
    assert [r["id"] for r in first.read().to_pylist()] == [1]
    assert second.version_count() == 0


def test_an_unreachable_store_fails_the_run_clearly_without_the_secret(tmp_path, bucket):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, _, secret = bucket
    make(
        tmp_path,
        f"http://127.0.0.1:{port}",
        bucket,
        extra="config_kwargs = { connect_timeout = 1, retries = { max_attempts = 1 } }",
    )
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    done = run_cli("ingest", "--project", str(tmp_path))
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert f"s3://{bucket[0]}/{LAKE}/d" in said and "connect" in said.lower()
    assert secret not in said
    shown = run_cli("history", "--project", str(tmp_path), "--format", "json")
    assert secret not in shown.stdout + shown.stderr
    [run] = Project.open(tmp_path).history()
    assert run["status"] == "failed" and f"s3://{bucket[0]}/{LAKE}/d" in str(run)


def test_credentials_are_never_recorded_logged_or_shown(
    tmp_path, s3_server, bucket, caplog, records_backend
):
    import logging

    import sqlalchemy as sa

    name, fs, secret = bucket
    caplog.set_level(logging.DEBUG)
    p = make(tmp_path, s3_server, bucket, extra=records_backend)
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    said = []
    for args in (
        ("ingest",),
        ("history", "--format", "json"),
        ("show", "1"),
        ("show", "1", "--format", "json"),
        ("versions", "--format", "json"),
        ("records", "export", "1", "--format", "json"),
        ("diagnostics", "--format", "json"),
    ):
        done = run_cli(*args, "--project", str(tmp_path))
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        said.append(done.stdout + done.stderr)
    assert "AKIDHEADWATER" not in "".join(said)
    assert secret not in "".join(said)
    assert secret not in caplog.text
    assert secret not in repr(p.workspace.config) and secret not in str(p.workspace.config)
    stored = b"".join(f.read_bytes() for f in (tmp_path / ".headwater").rglob("*") if f.is_file())
    assert secret.encode() not in stored
    rows = []  # every row of every table of the record store (SQLite or PostgreSQL)
    with p.workspace.records.read() as conn:
        meta = sa.MetaData()
        meta.reflect(bind=conn)
        for table in meta.sorted_tables:
            rows += [repr(tuple(r)) for r in conn.execute(sa.select(table))]
    assert rows and "AKIDHEADWATER" not in "".join(rows) and secret not in "".join(rows)
    in_bucket = b"".join(fs.cat_file(k) for k in fs.find(name))
    assert secret.encode() not in in_bucket and b"AKIDHEADWATER" not in in_bucket


def test_train_deploy_predict_and_run_with_the_dataset_and_the_models_in_s3(
    tmp_path, s3_server, bucket
):
    name, fs, secret = bucket
    p = make(
        tmp_path,
        s3_server,
        bucket,
        extra=f'[model]\ntarget = "y"\nestimator = "sklearn.linear_model.LogisticRegression"\n'
        f'params = {{ max_iter = 200 }}\npath = "s3://{name}/models"\n',
    )
    put(
        tmp_path / "incoming/a.csv",
        "x,y\n" + "".join(f"{i},{int(i % 7 > 2)}\n" for i in range(60)),
    )
    p.ingest()
    r = p.train(deploy=True)
    assert r.model_version == 1
    found = keys(fs, name)
    assert {"models/v0001/model.skops", "models/v0001/card.json"} <= set(found)
    assert p.models().production_version == 1
    # the production model is loaded back from the bucket (its hash checked)
    out = tmp_path / "predictions.csv"
    data = str(tmp_path / "incoming/a.csv")
    done = run_cli("predict", "--data", data, "-o", str(out), "--project", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(out.read_text().splitlines()) == 61
    assert secret.encode() not in fs.cat_file(f"{name}/models/v0001/card.json")
    # headwater run on new data: ingest, then the drift checks score the production model
    # (loaded from the bucket) on rows read back from the bucket
    put(
        tmp_path / "incoming/b.csv",
        "x,y\n" + "".join(f"{i},{int(i % 7 > 2)}\n" for i in range(60, 100)),
    )
    loop = p.run()
    assert loop.status not in ("failed", "partial"), loop
    assert (loop.files_new, loop.rows_added) == (1, 40) and loop.rows_checked >= 40
    assert loop.drift is not None and loop.drift["rows"] >= 40, loop.drift


def test_an_s3_source_is_listed_and_staged_with_the_storage_options(tmp_path, s3_server, bucket):
    name, fs, _ = bucket
    fs.pipe_file(f"{name}/in/a.csv", b"id,x\n1,a\n2,b\n")
    fs.pipe_file(f"{name}/in/sub/b.jsonl", b'{"id": 3, "x": "c"}\n')
    p = make(tmp_path, s3_server, bucket)
    write = (tmp_path / "headwater.toml").read_text()
    (tmp_path / "headwater.toml").write_text(
        write.replace('path = "incoming"', f'path = "s3://{name}/in"')
    )
    p = Project.open(tmp_path)
    r = p.ingest()
    assert (r.status, r.files_new, r.rows_added) == ("ok", 2, 3)
    assert all(f["path"].startswith(f"s3://{name}/in/") for f in r.files)
    assert p.ingest().files_skipped == 2


def test_storage_options_come_from_the_file_or_the_environment_and_are_never_dumped(tmp_path):
    from headwater.config import config_from_dict

    cfg = config_from_dict(
        {"storage": {"s3": {"endpoint_url": "http://127.0.0.1:9", "key": "AKID"}}},
        root=tmp_path,
        env={"HEADWATER_STORAGE__S3__SECRET": "from-the-env-123"},
    )
    assert cfg.storage_options("s3://b/x") == {
        "endpoint_url": "http://127.0.0.1:9",
        "key": "AKID",
        "secret": "from-the-env-123",
    }
    assert cfg.storage_options("/local/path") == {} and cfg.storage_options("gs://b") == {}
    assert "from-the-env-123" not in repr(cfg) + cfg.model_dump_json()
    with pytest.raises(Exception, match="not shown") as info:
        config_from_dict({"storage": {"s3": "hunter2-secret"}}, root=tmp_path)
    assert "hunter2-secret" not in str(info.value)


def test_the_credentials_of_a_failing_store_are_masked_in_its_error(tmp_path):
    import fsspec
    from fsspec.implementations.memory import MemoryFileSystem

    from headwater.errors import StorageError
    from headwater.storage import Store

    class Leaky(MemoryFileSystem):  # a library whose error repeats the credentials
        protocol = "leaky"

        def pipe_file(self, path, value, **kwargs):
            raise PermissionError(f"denied: signed with {self.storage_options['secret']}")

    fsspec.register_implementation("leaky", Leaky, clobber=True)
    store = Store("leaky://nowhere/x", {"secret": "p4ssw0rd-xyz"})
    with pytest.raises(StorageError) as info:
        store.write_bytes("a", b"1")
    said = str(info.value)
    assert "leaky://nowhere/x/a" in said and "denied: signed with ***" in said
    assert "p4ssw0rd" not in said + repr(store) and info.value.__cause__ is None


def test_a_bucket_that_does_not_exist_is_a_clear_error(tmp_path, s3_server, bucket):
    name, fs, secret = bucket
    make(tmp_path, s3_server, (f"{name}-missing", fs, secret))
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    done = run_cli("ingest", "--project", str(tmp_path))
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert f"s3://{name}-missing/{LAKE}/d/headwater-dataset.json" in said
    assert "does not create buckets" in said and secret not in said


def test_a_part_deleted_or_changed_in_the_bucket_is_refused_not_misread(
    tmp_path, s3_server, bucket
):
    from headwater import ProjectError

    name, fs, _ = bucket
    p = make(tmp_path, s3_server, bucket)
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    p.ingest()
    [part] = [k for k in keys(fs, name) if k.startswith(f"{LAKE}/d/parts/")]
    good = fs.cat_file(f"{name}/{part}")
    fs.pipe_file(f"{name}/{part}", good + b"extra")
    with pytest.raises(ProjectError, match="changed after headwater wrote it"):
        Project.open(tmp_path).read()
    fs.rm_file(f"{name}/{part}")
    with pytest.raises(ProjectError, match="is missing from"):
        Project.open(tmp_path).read()
    fs.pipe_file(f"{name}/{part}", good)
    assert Project.open(tmp_path).read().num_rows == 1


def test_credentials_may_come_from_the_environment_alone(tmp_path, s3_server, bucket):
    # [storage.s3] without key/secret: s3fs takes AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    # (set by the s3_server fixture, fake, for this test process only)
    make(tmp_path, s3_server, bucket)
    toml = tmp_path / "headwater.toml"
    body = "\n".join(
        line
        for line in toml.read_text().splitlines()
        if not line.strip().startswith(("key", "secret"))
    )
    toml.write_text(body)
    p = Project.open(tmp_path)
    assert p.workspace.config.storage_options(f"s3://{bucket[0]}") == {"endpoint_url": s3_server}
    put(tmp_path / "incoming/a.csv", "id,x\n1,a\n")
    assert p.ingest().dataset_version == 1
    assert Project.open(tmp_path).read().num_rows == 1
