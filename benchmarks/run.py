"""Ingestion benchmarks: headwater vs the obvious alternatives, side by side, one run.

    python benchmarks/run.py [--sizes 1000000,10000000] [--repeat 3] [--loop-sizes ...]

Writes benchmarks/RESULTS.md (date, machine, versions, medians and ratios). Data: stock-like
CSV files of 10,000 rows each over 3 folders, ~5% rows duplicated across files, generated
once per size under benchmarks/data/ (git-ignored).

Measured, per size, each as the median wall time of --repeat runs of a whole process:
- cat of the files (the I/O floor);
- a hand-written DuckDB query: SELECT DISTINCT over the files into Parquet (the practical floor);
- the tutorial loop: pandas read_csv + concat per file, then drop_duplicates (only up to
  --loop-max rows: it is quadratic; its growth is reported from the smaller sizes);
- `headwater ingest`, first run into a fresh project, with its peak memory (max RSS);
- `headwater ingest` again with no new files;
- `headwater ingest` after adding 1% new rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROWS_PER_FILE = 10_000
FOLDERS = ("broker_a", "broker_b", "broker_c")
PY = sys.executable
HEADWATER = [PY, "-m", "headwater"]


def generate(root: Path, rows: int, *, start_file: int = 0, seed: int = 0) -> list[Path]:
    """Write rows/10,000 CSV files round-robin over 3 folders; ~5% duplicate rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed + start_file)
    n_files = max(1, rows // ROWS_PER_FILE)
    written = []
    tickers = np.array([f"T{i:04d}" for i in range(2000)])
    base = np.datetime64("2000-01-01")
    for i in range(start_file, start_file + n_files):
        folder = root / FOLDERS[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        n = ROWS_PER_FILE
        uniq = int(n * 0.95)
        day = base + rng.integers(0, 9000, uniq).astype("timedelta64[D]")
        price = np.round(rng.uniform(1, 500, uniq), 2)
        eps = np.round(rng.uniform(0.1, 20, uniq), 3)
        cols = {
            "date": day.astype(str),
            "ticker": tickers[rng.integers(0, len(tickers), uniq)],
            "peratio": np.round(price / eps, 3),
            "price": price,
            "volume": rng.integers(1_000, 5_000_000, uniq),
            "eps": eps,
            "up_next_day": rng.integers(0, 2, uniq),
        }
        # ~5% of rows repeat rows of this file (so duplicates exist within and across runs)
        dup = rng.integers(0, uniq, n - uniq)
        cols = {k: np.concatenate([v, v[dup]]) for k, v in cols.items()}
        path = folder / f"part{i:05d}.csv"
        pacsv.write_csv(pa.table(cols), path)
        t = time.time() - 3600
        os.utime(path, (t, t))
        written.append(path)
    return written


def timed(
    cmd: list[str] | str,
    *,
    cwd: Path | None = None,
    shell: bool = False,
    ok: tuple[int, ...] = (0,),
) -> tuple[float, int]:
    """Wall seconds of one child process (its exit code must be in ``ok``)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, shell=shell, stdout=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise RuntimeError(f"{cmd!r} exited {proc.returncode}")
    return secs, proc.returncode


_RSS = (
    "import resource,subprocess,sys;"
    "rc=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL).returncode;"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss(cmd: list[str], cwd: Path | None = None, ok: tuple[int, ...] = (0,)) -> float:
    """Peak RSS in MiB of a command, measured in a fresh parent process."""
    out = subprocess.run(
        [PY, "-c", _RSS, *cmd], cwd=cwd, check=True, capture_output=True, text=True
    )
    rc, kib = out.stdout.strip().splitlines()[-1].split()
    if int(rc) not in ok:
        raise RuntimeError(f"{cmd!r} exited {rc}")
    return int(kib) / 1024


def replace_section(path: Path, name: str, title: str, body: str) -> None:
    """Rewrite one section of RESULTS.md (between markers), keeping the others."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n## {title}\n\n{body.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"wrote the {name!r} section of {path}")


def _speed(baseline: float, ours: float) -> str:
    """'N× faster' or 'N× slower' than the baseline."""
    if ours <= baseline:
        return f"{baseline / ours:.1f}× faster"
    return f"{ours / baseline:.1f}× slower"


def versions_line() -> str:
    return (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}); "
        f"{versions()}."
    )


DUCKDB_SCRIPT = textwrap.dedent(
    """
    import sys, duckdb
    src, out = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    q = f"SELECT DISTINCT * FROM read_csv('{src}/*/*.csv')"
    con.execute(f"COPY ({q}) TO '{out}' (FORMAT parquet)")
    """
)

PANDAS_LOOP = textwrap.dedent(
    """
    import glob, sys
    import pandas as pd
    df = pd.DataFrame()
    for path in sorted(glob.glob(sys.argv[1] + "/*/*.csv")):
        df = pd.concat([df, pd.read_csv(path)])
    df = df.drop_duplicates()
    df.to_parquet(sys.argv[2])
    """
)


def project(root: Path, data: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "headwater.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "bench"
            [[sources]]
            path = "{data}"
            [dataset]
            name = "prices"
            settle_seconds = 0
            [engine]
            memory_limit = "1GB"
            """
        )
    )


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def bench_size(rows: int, repeat: int, loop_max: int, work: Path) -> dict[str, float]:
    data = DATA / f"rows{rows}"
    if not data.exists():
        print(f"  generating {rows:,} rows …", flush=True)
        generate(data, rows)
    files = sorted(data.glob("*/*.csv"))
    res: dict[str, float] = {"rows": rows, "files": len(files)}
    res["cat"] = median(
        [timed(f"cat {data}/*/*.csv > /dev/null", shell=True)[0] for _ in range(repeat)]
    )
    out = work / "duck.parquet"
    res["duckdb"] = median(
        [timed([PY, "-c", DUCKDB_SCRIPT, str(data), str(out)])[0] for _ in range(repeat)]
    )
    res["duckdb_mem"] = peak_rss([PY, "-c", DUCKDB_SCRIPT, str(data), str(out)])
    if rows <= loop_max:
        res["pandas_loop"] = median(
            [
                timed([PY, "-c", PANDAS_LOOP, str(data), str(work / "pd.parquet")])[0]
                for _ in range(max(1, repeat - 1))
            ]
        )
    firsts, seconds, incs, mems = [], [], [], []
    for _ in range(repeat):
        proj = work / "proj"
        project(proj, data)
        # first run, measured with its peak memory
        t0 = time.perf_counter()
        mems.append(peak_rss([*HEADWATER, "ingest"], cwd=proj))
        firsts.append(time.perf_counter() - t0)
        seconds.append(timed([*HEADWATER, "ingest"], cwd=proj)[0])
        extra = data.parent / f"rows{rows}-extra"
        if extra.exists():
            shutil.rmtree(extra)
        new = generate(extra, max(ROWS_PER_FILE, rows // 100), start_file=10**6, seed=7)
        moved = []
        for f in new:
            target = data / f.parent.name / f.name
            shutil.move(str(f), target)
            moved.append(target)
        incs.append(timed([*HEADWATER, "ingest"], cwd=proj)[0])
        for f in moved:
            f.unlink()
        shutil.rmtree(extra, ignore_errors=True)
    res["hw_first"] = median(firsts)
    res["hw_second"] = median(seconds)
    res["hw_inc"] = median(incs)
    res["hw_mem"] = max(mems)
    return res


def versions() -> str:
    out = []
    for mod in ("headwater", "duckdb", "ibis", "pyarrow", "pandas"):
        try:
            m = __import__(mod)
            out.append(f"{mod} {getattr(m, '__version__', '?')}")
        except ImportError:
            out.append(f"{mod} (not installed)")
    return ", ".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--loop-sizes", default="100000,300000,1000000")
    ap.add_argument("--loop-max", type=int, default=1_000_000)
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    work = HERE / "data" / "work"
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        print(f"size {size:,}", flush=True)
        results.append(bench_size(size, args.repeat, args.loop_max, work))
        print(f"  {results[-1]}", flush=True)
    loop = []
    for size in [int(s) for s in args.loop_sizes.split(",") if s]:
        data = DATA / f"rows{size}"
        if not data.exists():
            generate(data, size)
        secs = timed([PY, "-c", PANDAS_LOOP, str(data), str(work / "pd.parquet")])[0]
        loop.append((size, secs))
        print(f"  pandas loop {size:,}: {secs:.2f}s", flush=True)
    write_results(Path(args.output), results, loop, args.repeat)
    return 0


def write_results(
    path: Path, results: list[dict[str, float]], loop: list[tuple[int, float]], repeat: int
) -> None:
    lines = [
        versions_line(),
        f"Command: `python benchmarks/run.py` (medians of {repeat} runs; "
        "whole processes, wall time).",
        "Data: CSV, 10,000 rows per file over 3 folders, ~5% duplicate rows, 7 columns.",
        "",
        "| rows | files | cat | DuckDB DISTINCT→Parquet | headwater ingest (1st) | "
        "ratio to DuckDB | "
        "pandas loop | headwater vs loop | 2nd run, no new files | +1% rows | +1% / 1st | "
        "peak RSS headwater | peak RSS DuckDB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        loop_s = r.get("pandas_loop")
        loop_txt = f"{loop_s:.1f}s" if loop_s else "not run"
        vs_loop = _speed(loop_s, r["hw_first"]) if loop_s else "-"
        lines.append(
            f"| {int(r['rows']):,} | {int(r['files'])} | {r['cat']:.2f}s | {r['duckdb']:.2f}s | "
            f"{r['hw_first']:.2f}s | {r['hw_first'] / r['duckdb']:.2f}× | {loop_txt} | {vs_loop} | "
            f"{r['hw_second']:.2f}s | {r['hw_inc']:.2f}s | {r['hw_inc'] / r['hw_first']:.0%} | "
            f"{r['hw_mem']:.0f} MiB | {r['duckdb_mem']:.0f} MiB |"
        )
    if loop:
        lines += [
            "",
            "Tutorial loop growth (pandas read_csv + concat per file, then drop_duplicates):",
            "",
        ]
        for n, s in loop:
            lines.append(f"- {n:,} rows: {s:.2f}s")
        if len(loop) >= 2:
            (n0, s0), (n1, s1) = loop[0], loop[-1]
            lines.append(f"- {n1 // n0}× the rows took {s1 / s0:.1f}× the time")
    lines += [
        "",
        "Targets (issue: demo and ingestion benchmarks): ≤ 1.5× DuckDB; ≥ 5× faster than "
        "the loop at 1M; 2nd run < 1 s; +1% < 10% of the first run; peak ≤ 1.5 GiB at 10M.",
        "",
    ]
    replace_section(path, "ingest", "Ingestion benchmarks", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
