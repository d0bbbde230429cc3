"""Wide-table benchmark (issue #13 item 7): time per column count, and against DuckDB.

    python benchmarks/wide.py [--widths 250,500,1000,2000] [--rows 6]
                              [--big-rows 10000] [--big-width 1000] [--big-files 4]

Two measurements, each of whole processes (wall time):
- per column count (``--widths``, ``--rows`` rows each): a first `headwater ingest`, a
  second with one new file, `headwater ingest --rebuild`, `headwater compare` of the two
  files, `headwater export` to Parquet; the table shows the time per column, which must
  stay flat for the cost to grow linearly with the width;
- ``--big-rows`` rows × ``--big-width`` columns over ``--big-files`` CSV files: `headwater
  ingest` against DuckDB's plain read of the same files (``COPY (SELECT * FROM
  read_csv(...)) TO 'x.parquet'``), and the ratio.

Columns cycle int, float and text. Writes the "wide" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

from run import DATA, HEADWATER, PY, peak_rss, replace_section, timed, versions_line

HERE = Path(__file__).resolve().parent


def write_csv(path: Path, width: int, rows: int, seed: int) -> Path:
    """``rows`` rows of ``width`` columns (int, float, text in turn); unique per seed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(f"c{i}" for i in range(width)) + "\n")
        for r in range(rows):
            s = seed * 1_000_000 + r
            cells = [
                str(s * 10 + i)
                if i % 3 == 0
                else f"{s % 997}.{i % 10}5"
                if i % 3 == 1
                else f"s{s}_{i}"
                for i in range(width)
            ]
            fh.write(",".join(cells) + "\n")
    t = time.time() - 3600
    os.utime(path, (t, t))
    return path


def project(root: Path, memory: str) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / "incoming").mkdir(parents=True)
    (root / "headwater.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "wide"
            [[sources]]
            path = "incoming"
            [dataset]
            name = "wide"
            settle_seconds = 0
            [engine]
            memory_limit = "{memory}"
            """
        )
    )
    return root


def per_width(width: int, rows: int, work: Path) -> dict[str, float]:
    root = project(work / f"w{width}", "1GB")
    first = write_csv(root / "incoming/a.csv", width, rows, 1)
    res: dict[str, float] = {"width": width}
    res["first"] = timed([*HEADWATER, "ingest"], cwd=root)[0]
    second = write_csv(root / "incoming/b.csv", width, rows, 2)
    res["second"] = timed([*HEADWATER, "ingest"], cwd=root)[0]
    res["rebuild"] = timed([*HEADWATER, "ingest", "--rebuild"], cwd=root)[0]
    # two files that differ: exit 1 (differences found) is the expected outcome
    res["compare"] = timed(
        [*HEADWATER, "compare", str(first), str(second), "--key", "c0", "-f", "json"],
        cwd=root,
        ok=(0, 1),
    )[0]
    res["export"] = timed([*HEADWATER, "export", "-o", str(work / "x.parquet")], cwd=root)[0]
    return res


DUCKDB_READ = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    con.execute(f"COPY (SELECT * FROM read_csv('{sys.argv[1]}/*.csv')) TO '{sys.argv[2]}' "
                "(FORMAT parquet)")
    """
)


def big(rows: int, width: int, files: int, work: Path) -> dict[str, float]:
    data = DATA / f"wide{rows}x{width}x{files}"
    if not data.exists():
        print(f"  generating {rows:,} rows × {width:,} columns …", flush=True)
        for f in range(files):
            write_csv(data / f"part{f:03d}.csv", width, rows // files, 100 + f)
    out = work / "duck.parquet"
    res: dict[str, float] = {"rows": rows, "width": width, "files": files}
    res["duckdb"] = timed([PY, "-c", DUCKDB_READ, str(data), str(out)])[0]
    root = project(work / "big", "1GB")
    (root / "incoming").rmdir()
    (root / "incoming").symlink_to(data)
    t0 = time.perf_counter()
    res["hw_mem"] = peak_rss([*HEADWATER, "ingest"], cwd=root)
    res["hw"] = time.perf_counter() - t0
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="250,500,1000,2000")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--big-rows", type=int, default=10_000)
    ap.add_argument("--big-width", type=int, default=1_000)
    ap.add_argument("--big-files", type=int, default=4)
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    load = os.getloadavg()[0]  # said with the numbers: this is wall time
    work = DATA / "wide-work"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for w in [int(x) for x in args.widths.split(",") if x]:
        rows.append(per_width(w, args.rows, work))
        print(f"  {rows[-1]}", flush=True)
    b = big(args.big_rows, args.big_width, args.big_files, work) if args.big_rows else None
    if b:
        print(f"  {b}", flush=True)
    lines = [
        versions_line(),
        "Command: `python benchmarks/wide.py` (one run each; whole processes, wall time). "
        f"Columns cycle int, float, text. Load average when it started: {load:.1f} "
        f"on {os.cpu_count()} cores.",
        "",
        f"Per column count, {args.rows} rows per file:",
        "",
        "| columns | 1st ingest | ms/column | 2nd ingest (+1 file) | --rebuild | compare | "
        "ms/column | export |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['width']):,} | {r['first']:.1f}s | {1000 * r['first'] / r['width']:.1f} | "
            f"{r['second']:.1f}s | {r['rebuild']:.1f}s | {r['compare']:.1f}s | "
            f"{1000 * r['compare'] / r['width']:.1f} | {r['export']:.1f}s |"
        )
    if b:
        lines += [
            "",
            f"{int(b['rows']):,} rows × {int(b['width']):,} columns in {int(b['files'])} CSV "
            f"files: DuckDB plain read to Parquet {b['duckdb']:.1f}s, `headwater ingest` "
            f"{b['hw']:.1f}s (peak RSS {b['hw_mem']:.0f} MiB): {b['hw'] / b['duckdb']:.1f}× "
            "DuckDB.",
        ]
    replace_section(Path(args.output), "wide", "Wide tables (issue #13 item 7)", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
