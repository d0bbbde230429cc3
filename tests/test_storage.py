"""headwater.storage: a local folder keeps headwater's own file handling; a URL goes
through fsspec (here its in-memory filesystem; S3 itself in tests/ingest/test_storage_s3.py)."""

from __future__ import annotations

import os
import stat
import uuid

from headwater.storage import Store, mask, secrets


def test_a_local_store_writes_whole_files_with_at_most_0o644_and_lists_only_regular_files(
    tmp_path,
):
    store = Store(str(tmp_path / "ds"))
    store.write_bytes("versions/v000001.json", b"{}", temp="v000001.tmp")
    path = tmp_path / "ds" / "versions" / "v000001.json"
    assert path.read_bytes() == b"{}"
    assert stat.S_IMODE(path.stat().st_mode) & 0o133 == 0  # no group/world write, no x
    assert not (tmp_path / "ds" / "versions" / "v000001.tmp").exists()  # renamed into place
    assert store.create("m.json", b"1") and not store.create("m.json", b"2")
    assert store.read_bytes("m.json") == b"1"
    os.symlink(path, tmp_path / "ds" / "versions" / "link.json")
    os.mkfifo(tmp_path / "ds" / "versions" / "pipe")
    assert [e.name for e in store.files("versions")] == ["v000001.json"]
    assert sorted(e.name for e in store.files("versions", links=True)) == [
        "link.json",
        "v000001.json",
    ]
    assert store.files("nothing-here") == []
    store.delete("versions/link.json")
    store.delete("versions/link.json")  # already gone: nothing
    assert path.exists()  # removing the link never touched its target
    assert store.ends("versions/v000001.json", 1) == (2, b"{", b"}")


def test_a_url_store_goes_through_fsspec():
    store = Store(f"memory://hw-{uuid.uuid4().hex[:8]}/lake/")
    assert not store.local and store.root.endswith("/lake")
    store.write_bytes("parts/a.parquet", b"PAR1xxPAR1")
    assert store.exists("parts/a.parquet") and not store.exists("parts/b.parquet")
    assert [(e.name, e.size) for e in store.files("parts")] == [("a.parquet", 10)]
    assert store.size("parts/a.parquet") == 10
    assert store.ends("parts/a.parquet", 4) == (10, b"PAR1", b"PAR1")
    assert store.create("m.json", b"1") and not store.create("m.json", b"2")
    assert store.read_bytes("m.json") == b"1"
    store.delete("parts/a.parquet")
    store.delete("parts/a.parquet")
    assert store.files("parts") == [] and store.files("never") == []
    assert store.url("m.json") == f"{store.root}/m.json"


def test_credentials_are_found_in_nested_options_and_masked():
    options = {
        "endpoint_url": "http://127.0.0.1:9000",
        "key": "AKIDEXAMPLE",
        "secret": "s3cr3t",
        "client_kwargs": {"aws_session_token": "tok-123", "region_name": "eu-central-1"},
    }
    assert set(secrets(options)) == {"AKIDEXAMPLE", "s3cr3t", "tok-123"}
    text = "signed AKIDEXAMPLE/s3cr3t with tok-123 at http://127.0.0.1:9000 in eu-central-1"
    assert mask(text, options) == "signed ***/*** with *** at http://127.0.0.1:9000 in eu-central-1"


def test_duckdb_writes_a_part_under_a_url_once_and_reads_it_back(tmp_path):
    import ibis

    from headwater.config import EngineConfig
    from headwater.engines import connect

    engine = connect(EngineConfig(threads=1, memory_limit="256MB"), tmp_path)
    try:
        root = f"memory://hw-{uuid.uuid4().hex[:8]}/lake"
        store, other = Store(root), Store(f"{root}-2")
        engine.attach_store(store)
        engine.attach_store(other)  # same scheme, same filesystem: served by one bridge
        t = ibis.memtable({"id": [1, 2, 3]})
        assert engine.write_parquet(t, f"{root}/parts/p.parquet") == 3
        assert [e.name for e in store.files("parts")] == ["p.parquet"]
        assert engine.write_parquet(t.filter(t.id > 5), f"{root}/parts/empty.parquet") == 0
        assert [e.name for e in store.files("parts")] == ["p.parquet"]  # not uploaded
        back = engine.to_pyarrow(engine.read_parquet([f"{root}/parts/p.parquet"]))
        assert back.column("id").to_pylist() == [1, 2, 3]
        assert not list((tmp_path / ".headwater" / "tmp").glob("upload-*"))
    finally:
        engine.close()
