"""What only the Spark engine has to get right: the session it is given or builds, its
record numbers under any partitioning, its regex dialect, and the registry's hint."""

from __future__ import annotations

import sys

import pytest

from headwater.config import EngineConfig
from headwater.engines import connect
from headwater.engines.base import ReadGroup
from headwater.errors import EngineError


def test_the_active_session_is_used_never_stopped_and_its_settings_restored(
    spark_session, tmp_path
):
    conf = spark_session.conf
    conf.set("spark.sql.session.timeZone", "Europe/Paris")
    conf.unset("spark.sql.mapKeyDedupPolicy")
    before = conf.get("spark.sql.mapKeyDedupPolicy")
    engine = connect(EngineConfig(name="spark", master="local[4]"), tmp_path)
    assert engine.session is spark_session  # master ignored (with a warning): it is active
    assert conf.get("spark.sql.session.timeZone") == "UTC"  # while the engine runs
    engine.close()
    assert conf.get("spark.sql.session.timeZone") == "Europe/Paris"
    assert conf.get("spark.sql.mapKeyDedupPolicy") == before
    assert spark_session.sql("SELECT 1 AS one").collect()[0].one == 1  # still running
    conf.set("spark.sql.session.timeZone", "UTC")
    assert not (tmp_path / ".headwater" / "spark").exists()  # nothing built for it


def test_record_numbers_are_file_order_whatever_the_partitioning(spark_session, tmp_path):
    """Files split into many partitions (4 KB splits, packed with other files' splits)
    number their records 1..n in file order, as DuckDB does."""
    lines = {
        "a.jsonl": [f'{{"line": "{i}", "pad": "{"x" * (i % 50)}"}}' for i in range(1, 1501)],
        "b.jsonl": [f'{{"line": "{i}", "pad": ""}}' for i in range(1, 301)],
    }
    for name, body in lines.items():
        (tmp_path / name).write_text("\n".join(body) + "\n", encoding="utf-8")
    files = tuple(str(tmp_path / n) for n in lines)
    group = ReadGroup("jsonl", files, ("line", "pad"), ("line", "pad"), {}, (11, 12))
    conf = spark_session.conf
    engine = connect(EngineConfig(name="spark"), tmp_path)
    try:
        got, parts = [], []
        for split in ("4096", "128MB"):
            conf.set("spark.sql.files.maxPartitionBytes", split)
            parts.append(spark_session.read.json(list(files)).rdd.getNumPartitions())
            t = engine.stage(group, f"staged_{split}")
            rows = engine.to_pyarrow(t.select("line", "_hw_file", "_hw_record")).to_pylist()
            got.append(sorted((r["_hw_file"], r["_hw_record"], r["line"]) for r in rows))
        assert parts[0] > 10 and parts[1] <= 2  # 4 KB splits; one split per file
        assert got[0] == got[1]
        assert got[0] == [(11, i, str(i)) for i in range(1, 1501)] + [
            (12, i, str(i)) for i in range(1, 301)
        ]
    finally:
        conf.unset("spark.sql.files.maxPartitionBytes")
        engine.close()


def test_regex_rules_are_checked_in_java_s_dialect(spark_session, tmp_path):
    engine = connect(EngineConfig(name="spark"), tmp_path)
    try:
        assert engine.check_regex(r"(?<=a)b") is None  # look-behind: Java has it, RE2 not
        assert "Unclosed group" in (engine.check_regex("(ab") or "")
    finally:
        engine.close()


def test_a_missing_pyspark_names_the_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "headwater.engines._spark", raising=False)
    for name in ("pyspark", "pyspark.sql", "ibis.backends.pyspark"):
        monkeypatch.setitem(sys.modules, name, None)  # `import pyspark` fails
    with pytest.raises(EngineError) as info:
        connect(EngineConfig(name="spark"), tmp_path)
    assert info.value.hint == "pip install 'headwater[spark]'"
    assert "spark engine cannot be imported" in str(info.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"master": "spark//host"}, "is not a Spark master"),
        ({"conf": {"executor.memory": "4g"}}, "keys start with 'spark.'"),
        ({"conf": {"spark.master": "local"}}, "[engine] master, not conf"),
        ({"conf": {"spark.x": [1]}}, "a value is a string, number or boolean"),
    ],
)
def test_bad_spark_settings_are_refused_with_the_fix(fields, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        EngineConfig(name="spark", **fields)


def test_spark_settings_need_the_spark_engine():
    with pytest.raises(ValueError, match='set name = "spark"'):
        EngineConfig(master="local[2]")
    cfg = EngineConfig(
        name="spark",
        master="spark://host:7077",
        conf={"spark.executor.memory": "4g", "spark.executor.cores": 2, "spark.x.on": True},
    )
    assert cfg.conf == {
        "spark.executor.memory": "4g",
        "spark.executor.cores": "2",
        "spark.x.on": "true",
    }


_OWN_SESSION = r"""
import sys
from pathlib import Path
from pyspark import SparkContext
from headwater.config import EngineConfig
from headwater.engines import connect
from headwater.engines.base import ReadGroup

root = Path(sys.argv[1])
(root / "a.csv").write_text("k,v\nx,1.5\ny,1e-05\n", encoding="utf-8")
config = EngineConfig(name="spark", master="local[1]", conf={"spark.sql.shuffle.partitions": "1"})
engine = connect(config, root)
t = engine.stage(ReadGroup("csv", (str(root / "a.csv"),), ("k", "v"), ("k", "v")), "a")
rows = engine.to_pyarrow(t.select("k", "v", "_hw_record")).to_pylist()
engine.write_parquet(t, str(root / "out" / "a.parquet"))
assert engine.session.conf.get("spark.ui.enabled") == "false"
# one machine: paths are listed on the driver, not by a Spark job of one task per path
listing = "spark.sql.sources.parallelPartitionDiscovery.threshold"
assert engine.session.conf.get(listing) == "1000000"
engine.close()
assert SparkContext._active_spark_context is None, "a session it built is stopped"
print(sorted((r["k"], r["v"], r["_hw_record"]) for r in rows))
"""


def test_a_session_it_builds_keeps_its_files_in_the_project_and_is_stopped(spark_session, tmp_path):
    """No active session (a process of its own): one is built from master and conf, writes
    only under .headwater/spark (and temp folders), and is stopped on close."""
    import os
    import subprocess

    # (spark_session: skipped without Java or pyspark, failed in CI, like every Spark test)
    project, cwd = tmp_path / "project", tmp_path / "cwd"
    project.mkdir()
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _OWN_SESSION, str(project)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[('x', '1.5', 1), ('y', '1e-05', 2)]"
    assert list(cwd.iterdir()) == []  # no spark-warehouse, metastore_db or derby.log here
    assert sorted(p.name for p in project.iterdir()) == [".headwater", "a.csv", "out"]
    assert sorted(p.name for p in (project / ".headwater" / "spark").iterdir()) == [
        "derby",
        "events",
        "local",
        "warehouse",
    ]
    assert sorted(p.name for p in (project / "out").iterdir()) == ["a.parquet"]


def test_a_dataset_at_a_url_is_refused_on_spark_before_any_work(spark_session, make_project):
    """Spark opens paths through Hadoop's filesystems on its executors, not fsspec on the
    driver: a URL dataset path is a clear EngineError at the first use of the engine, and
    the run is recorded as failed (nothing written to the bucket, nothing ingested)."""
    from tests.conftest import put

    p = make_project(dataset='path = "memory://hw-spark-refused/lake"\n', engine="spark")
    put(p.root / "incoming" / "a.csv", "x\n1\n")
    with pytest.raises(EngineError, match="cannot keep the dataset at a URL") as info:
        p.ingest()
    assert "duckdb" in (info.value.hint or "")
    assert [(r["kind"], r["status"]) for r in p.history()] == [("ingest", "failed")]


def test_remote_files_staged_on_the_driver_are_refused_on_a_cluster(spark_session, tmp_path):
    """Ingest copies a remote source's files to the driver (.headwater/staging): local[*]
    reads them there; a cluster's executors could not, so the read is refused with the fix
    (what the engine does per master is asked of its session: a stand-in one here, since
    no cluster runs in the tests)."""
    from types import SimpleNamespace

    from headwater.engines._spark import SparkEngine

    engine = connect(EngineConfig(name="spark"), tmp_path)
    try:
        staged = str(tmp_path / ".headwater" / "staging" / "run-1" / "1-a.csv")
        mine = str(tmp_path / "incoming" / "a.csv")
        engine._check_readable((staged, mine))  # local[2]: the driver is the executor
        cluster = SimpleNamespace(
            session=SimpleNamespace(sparkContext=SimpleNamespace(master="spark://h:7077")),
            _staging=engine._staging,
        )
        SparkEngine._check_readable(cluster, (mine,))  # a file every executor may see
        with pytest.raises(EngineError, match=r"1 file.* copied to the driver") as info:
            SparkEngine._check_readable(cluster, (staged, mine))
        assert "spark://h:7077" in str(info.value) and "local[*]" in (info.value.hint or "")
    finally:
        engine.close()


def test_under_spark_submit_the_application_s_session_and_options_are_used(
    spark_session, make_project
):
    """``spark-submit …/headwater/__main__.py ingest -p P`` (the README's way to run on a
    cluster): the submit's master and options make the session, headwater builds none of
    its own (no .headwater/spark) and the ingest works."""
    import os
    import subprocess
    from pathlib import Path

    import pyspark

    import headwater
    from tests.conftest import put

    p = make_project(engine="spark")
    put(p.root / "incoming" / "a.csv", "k,v\nx,1\ny,2\n")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    main = Path(headwater.__file__).parent / "__main__.py"
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    for var in ("SPARK_HOME", "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET"):
        env.pop(var, None)
    options = ["--master", "local[1]", "--conf", "spark.ui.enabled=false"]
    proc = subprocess.run(
        [str(submit), *options, str(main), "ingest", "-p", str(p.root)],
        cwd=p.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "2 rows" in proc.stdout
    assert "ignored" not in proc.stderr  # no [engine] master: nothing to warn about
    assert not (p.root / ".headwater" / "spark").exists()  # the submit's session, not ours
    assert [(r["kind"], r["status"]) for r in p.history()] == [("ingest", "ok")]
    assert p.version_count() == 1 and p.read().num_rows == 2


def test_a_spark_without_the_schubfach_class_is_refused_at_connect(
    spark_session, tmp_path, monkeypatch
):
    """The text of a double needs Jackson's Schubfach class on Spark's class path: without
    it the engine is refused when it connects, with the fix, and the user's session keeps
    running with its settings as they were."""
    from headwater.engines import _spark

    conf = spark_session.conf
    conf.set("spark.sql.session.timeZone", "Europe/Paris")
    monkeypatch.setattr(_spark, "_SCHUBFACH", "com.example.NoSuchDoubleToDecimal")
    try:
        with pytest.raises(EngineError, match="NoSuchDoubleToDecimal") as info:
            connect(EngineConfig(name="spark"), tmp_path)
        assert "Spark 3.5 or 4.0" in (info.value.hint or "")
        assert conf.get("spark.sql.session.timeZone") == "Europe/Paris"
        assert spark_session.sql("SELECT 1 AS one").collect()[0].one == 1
    finally:
        conf.set("spark.sql.session.timeZone", "UTC")
