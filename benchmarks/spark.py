"""Spark benchmarks: headwater on Spark vs a hand-written PySpark job vs DuckDB vs pandas.

    python benchmarks/spark.py [--rows 10000000] [--compare-rows 10000000] [--repeat 1]

Side by side in one run, at ``--rows`` (default 10M), each a whole process, wall time, with
the peak memory of its whole process tree (Python, the JVM Spark runs in, Spark's Python
workers: the RSS of every descendant, summed, sampled every 0.1 s):

ingest (the CSV data of ``run.py``: 10,000 rows per file over 3 folders, ~5% duplicates)
- a hand-written PySpark job on ``local[2]``: ``read.csv(header, inferSchema)`` →
  ``distinct()`` → Parquet (the Spark floor: it types by inference, as headwater does, but
  checks nothing, numbers nothing and fingerprints nothing);
- ``headwater ingest`` with ``[engine] name = "spark"``, ``master = "local[2]"``;
- the hand-written DuckDB ``SELECT DISTINCT`` → Parquet of ``run.py``;
- ``headwater ingest`` on DuckDB (the default engine);
- the tutorial loop (pandas ``read_csv`` + ``concat`` per file, ``drop_duplicates``), stopped
  after ``--loop-timeout`` seconds.

compare (the keyed data of ``compare.py``: id + 6 columns, ~1% removed, added, changed)
- a hand-written PySpark full outer join on the key with the same counts as ``compare.py``'s
  DuckDB query; ``headwater compare --key id`` in the Spark project; the DuckDB query;
  ``headwater compare`` on DuckDB; datacompy (pandas).

Writes the "spark" section of benchmarks/RESULTS.md. Data is generated once under
benchmarks/data/ (git-ignored); a run at 10M takes about 20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import run
from run import DATA, PY, replace_section, versions_line

import compare as cmp

HERE = Path(__file__).resolve().parent
WORK = DATA / "spark-work"
LOGS = WORK / "logs"
HEADWATER = [PY, "-m", "headwater"]
PAGE = os.sysconf("SC_PAGE_SIZE")

SPARK_CONF = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}

# each hand-written job: a session on local[2] with the key=value settings after its two
# paths (the same settings for every Spark figure), then its own lines
_HAND_SESSION = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession, functions as F
    a, b, conf = sys.argv[1], sys.argv[2], dict(x.split("=", 1) for x in sys.argv[3:])
    builder = SparkSession.builder.master("local[2]")
    for k, v in conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    """
)

HAND_INGEST = _HAND_SESSION + textwrap.dedent(
    """
    df = spark.read.csv(a + "/*/*.csv", header=True, inferSchema=True)
    df.distinct().write.mode("overwrite").parquet(b)
    spark.stop()
    """
)

HAND_COMPARE = _HAND_SESSION + textwrap.dedent(
    """
    left = spark.read.parquet(a).alias("l")
    right = spark.read.parquet(b).alias("r")
    j = left.join(right, F.col("l.id") == F.col("r.id"), "full_outer")
    both = F.col("l.id").isNotNull() & F.col("r.id").isNotNull()
    cols = ["date", "ticker", "price", "volume", "eps", "label"]
    aggs = [
        F.count(F.when(both, 1)).alias("both"),
        F.count(F.when(F.col("r.id").isNull(), 1)).alias("only_l"),
        F.count(F.when(F.col("l.id").isNull(), 1)).alias("only_r"),
        F.max(F.abs(F.col("l.price") - F.col("r.price"))).alias("max_price"),
    ] + [
        F.count(F.when(both & ~F.col(f"l.{c}").eqNullSafe(F.col(f"r.{c}")), 1)).alias(f"u_{c}")
        for c in cols
    ]
    print(j.agg(*aggs).collect())
    spark.stop()
    """
)


def _tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and all its descendants, now."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            continue
    return total


def measured(
    name: str,
    cmd: list[str],
    *,
    cwd: Path | None = None,
    ok: tuple[int, ...] = (0,),
    timeout: float | None = None,
) -> dict[str, float | None]:
    """Run ``cmd`` once: wall seconds (None past ``timeout``) and peak tree RSS in MiB."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(0.1):
                peak = max(peak, _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
            secs: float | None = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-KILL", "-P", str(proc.pid)], check=False)
            proc.kill()
            proc.wait()
            rc, secs = None, None
        stop.set()
        sampler.join()
    if rc is not None and rc not in ok:
        raise RuntimeError(f"{name}: {cmd!r} exited {rc}; see {log}")
    shown = f"{secs:.1f}s" if secs is not None else f"stopped after {timeout:.0f}s"
    print(f"  {name}: {shown}, peak {peak / 2**20:.0f} MiB", flush=True)
    return {"secs": secs, "mem": peak / 2**20}


def best(
    name: str, repeat: int, cmd: list[str], before: Any = None, **kw: Any
) -> dict[str, float | None]:
    """The median time of ``repeat`` runs (``before()`` resets state before each), and the
    highest peak memory."""
    runs = []
    for i in range(repeat):
        if before is not None:
            before()
        runs.append(measured(f"{name}-{i}", cmd, **kw))
    times = [r["secs"] for r in runs if r["secs"] is not None]
    return {
        "secs": statistics.median(times) if len(times) == len(runs) else None,
        "mem": max(float(r["mem"] or 0) for r in runs),
    }


def spark_project(root: Path, data: Path | None, dataset: str = "prices") -> None:
    """A fresh project on Spark ``local[2]`` (``data``: its one source folder)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    source = f'[[sources]]\npath = "{data}"\n' if data else ""
    (root / "headwater.toml").write_text(
        '[project]\nname = "bench"\n'
        + source
        + f'[dataset]\nname = "{dataset}"\nsettle_seconds = 0\n'
        + '[engine]\nname = "spark"\nmaster = "local[2]"\n',
        encoding="utf-8",
    )


def conf_args() -> list[str]:
    return [f"{k}={v}" for k, v in SPARK_CONF.items()]


def bench_ingest(rows: int, repeat: int, loop_timeout: float) -> dict[str, Any]:
    data = DATA / f"rows{rows}"
    if not data.exists():
        print(f"  generating {rows:,} rows …", flush=True)
        run.generate(data, rows)
    res: dict[str, Any] = {"rows": rows, "files": len(list(data.glob("*/*.csv")))}
    hand_out = WORK / "hand.parquet"
    res["hand"] = best(
        "ingest-hand-pyspark",
        repeat,
        [PY, "-c", HAND_INGEST, str(data), str(hand_out), *conf_args()],
    )
    proj = WORK / "spark-proj"
    res["hw_spark"] = best(
        "ingest-headwater-spark",
        repeat,
        [*HEADWATER, "ingest"],
        before=lambda: spark_project(proj, data),
        cwd=proj,
    )
    res["duckdb"] = best(
        "ingest-duckdb",
        repeat,
        [PY, "-c", run.DUCKDB_SCRIPT, str(data), str(WORK / "duck.parquet")],
    )
    duck_proj = WORK / "duck-proj"
    res["hw_duckdb"] = best(
        "ingest-headwater-duckdb",
        repeat,
        [*HEADWATER, "ingest"],
        before=lambda: run.project(duck_proj, data),
        cwd=duck_proj,
    )
    res["loop"] = measured(
        "ingest-pandas-loop",
        [PY, "-c", run.PANDAS_LOOP, str(data), str(WORK / "pd.parquet")],
        timeout=loop_timeout,
    )
    res["loop_timeout"] = loop_timeout
    return res


def bench_compare(rows: int, repeat: int) -> dict[str, Any]:
    folder = DATA / f"compare{rows}"
    if not (folder / "right.csv").exists():
        print(f"  generating {rows:,} keyed rows …", flush=True)
        cmp.generate(folder, rows)
    left, right = str(folder / "left.parquet"), str(folder / "right.parquet")
    res: dict[str, Any] = {"rows": rows}
    res["hand"] = best(
        "compare-hand-pyspark", repeat, [PY, "-c", HAND_COMPARE, left, right, *conf_args()]
    )
    proj = WORK / "spark-compare"
    spark_project(proj, None)
    hw = [*HEADWATER, "compare", left, right, "--key", "id", "--format", "json"]
    res["hw_spark"] = best(
        "compare-headwater-spark", repeat, [*hw, "--project", str(proj)], ok=(0, 1)
    )
    res["duckdb"] = best("compare-duckdb", repeat, [PY, "-c", cmp.DUCKDB, left, right])
    res["hw_duckdb"] = best("compare-headwater-duckdb", repeat, hw, ok=(0, 1))
    res["datacompy"] = measured("compare-datacompy", [PY, "-c", cmp.DATACOMPY, left, right])
    return res


def _t(m: dict[str, float | None], timeout: float | None = None) -> str:
    if m["secs"] is None:
        return f"> {timeout:.0f}s (stopped)" if timeout else "failed"
    return f"{m['secs']:.1f}s"


def _ratio(m: dict[str, float | None], base: dict[str, float | None]) -> str:
    if m["secs"] is None or base["secs"] is None:
        return "-"
    return f"{m['secs'] / base['secs']:.2f}×"


def write_results(ing: dict[str, Any] | None, com: dict[str, Any] | None, repeat: int) -> None:
    lines = [
        versions_line() + f" pyspark {_pyspark_version()}, {_java_version()}.",
        f"Command: `python benchmarks/spark.py` (median of {repeat} run(s) each; whole "
        "processes, wall time; peak memory is the RSS of the whole process tree, the JVM and "
        "Spark's Python workers included, sampled every 0.1 s). Spark runs on `local[2]`, "
        "started by each process (the ~7 s JVM and session start is in every Spark figure).",
        "",
        "| job | rows | hand-written PySpark | headwater on Spark | headwater / hand PySpark "
        "| DuckDB query | headwater on DuckDB | tutorial (pandas) | peak: hand PySpark | "
        "peak: headwater Spark | peak: headwater DuckDB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for job, r, tutorial in (
        ("ingest", ing, "loop"),
        ("compare (keyed, Parquet)", com, "datacompy"),
    ):
        if r is None:
            continue
        tut = r[tutorial]
        lines.append(
            f"| {job} | {r['rows']:,} | {_t(r['hand'])} | {_t(r['hw_spark'])} | "
            f"{_ratio(r['hw_spark'], r['hand'])} | {_t(r['duckdb'])} | {_t(r['hw_duckdb'])} | "
            f"{_t(tut, r.get('loop_timeout'))} | {r['hand']['mem']:.0f} MiB | "
            f"{r['hw_spark']['mem']:.0f} MiB | {r['hw_duckdb']['mem']:.0f} MiB |"
        )
    lines += [
        "",
        "Target (issue: scale-out): headwater on Spark within 1.5× of the hand-written "
        "PySpark job.",
    ]
    replace_section(HERE / "RESULTS.md", "spark", "Spark benchmarks", "\n".join(lines))


def _pyspark_version() -> str:
    try:
        import pyspark

        return str(pyspark.__version__)
    except ImportError:
        return "(not installed)"


def _java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "no java"
    return (out.stderr.strip().splitlines() or ["java ?"])[0].replace('"', "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--compare-rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--loop-timeout", type=float, default=900.0)
    ap.add_argument("--skip", choices=("ingest", "compare"), action="append", default=[])
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    ing = com = None
    if "ingest" not in args.skip:
        print(f"ingest, {args.rows:,} rows", flush=True)
        ing = bench_ingest(args.rows, args.repeat, args.loop_timeout)
    if "compare" not in args.skip:
        print(f"compare, {args.compare_rows:,} rows", flush=True)
        com = bench_compare(args.compare_rows, args.repeat)
    write_results(ing, com, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
