"""The record store on PostgreSQL against SQLite: the commands a scheduler and a person run
most, whole processes, side by side in one run.

    python benchmarks/records_pg.py [--rows 200000] [--runs 2000] [--repeat 5]

Set-up (not timed): a throw-away PostgreSQL cluster (Debian's ``postgresql`` package,
``initdb`` and ``pg_ctl`` under a temp folder, on a free port of 127.0.0.1, default
settings: fsync on), a project with a key and a [model] that ingests ``--rows`` rows and
deploys a first model with `headwater run`, and ``--runs`` more finished runs in its records
(so `history` reads from a store with some past). The project is then copied and the copy's
records moved to PostgreSQL with `headwater records copy`; the two copies differ only in
``[records] url``.

Measured per store (medians of ``--repeat``): `headwater run` with nothing new (the loop's
lock, discovery, records; the target is under 1 s whole process), `headwater history`
(the fast path: the driver alone, no SQLAlchemy), `headwater history --format json --limit
1000`, and `python -c pass` for the interpreter's own start. Writes the ``records_pg``
section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from run import HEADWATER, PY, replace_section, timed, versions_line

from loop import CONFIG, generate, last_run

HERE = Path(__file__).resolve().parent


@contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL cluster for the benchmark's life, as a SQLAlchemy URL without database."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("needs Debian's postgresql package: apt-get install postgresql")
    bin_dir = found[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="headwater-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
         "-E", "UTF8"],
        check=True, capture_output=True,
    )  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
         "-o", options, "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres") as c:
            c.autocommit = True
            c.execute('CREATE DATABASE "bench"')
        yield url + "/bench"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def add_runs(proj: Path, count: int) -> None:
    """``count`` finished runs in the project's records, written in-process (a past)."""
    code = (
        "import sys; from headwater import Project\n"
        "p = Project.open(sys.argv[1])\n"
        "for _ in range(int(sys.argv[2])):\n"
        "    with p.writer('gc') as run:\n"
        "        run.summary = {'removed': 0}\n"
    )
    subprocess.run([PY, "-c", code, str(proj), str(count)], check=True)


def median_of(cmd: list[str], cwd: Path, repeat: int, ok: tuple[int, ...] = (0,)) -> float:
    timed(cmd, cwd=cwd, ok=ok)  # warm the page cache and the server's
    return statistics.median(timed(cmd, cwd=cwd, ok=ok)[0] for _ in range(repeat))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    work = HERE / "data" / f"records_pg{args.rows}"
    shutil.rmtree(work, ignore_errors=True)
    data, lite, pg = work / "data", work / "sqlite", work / "postgresql"
    print(f"generating {args.rows:,} rows …", flush=True)
    generate(data, args.rows, first_id=0, seed=1, noise=0.8)
    lite.mkdir(parents=True)
    (lite / "headwater.toml").write_text(textwrap.dedent(CONFIG.format(data=data)))
    print("set-up: headwater run (ingest + first model), then the past runs …", flush=True)
    timed([*HEADWATER, "run"], cwd=lite)
    add_runs(lite, args.runs)
    results: dict[str, dict[str, float]] = {}
    statuses: dict[str, str] = {}
    with postgres() as url:
        shutil.copytree(lite, pg, symlinks=True)
        timed([*HEADWATER, "records", "copy", "--to", url], cwd=pg)
        with open(pg / "headwater.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[records]\nurl = "{url}"\n')
        for name, proj in (("SQLite", lite), ("PostgreSQL", pg)):
            results[name] = {
                "run": median_of([*HEADWATER, "run"], proj, args.repeat),
                "history": median_of([*HEADWATER, "history"], proj, args.repeat),
                "history_json": median_of(
                    [*HEADWATER, "history", "--format", "json", "--limit", "1000"],
                    proj,
                    args.repeat,
                ),
            }
            last = last_run(proj)  # what the timed runs did, on this store
            statuses[name] = f"run {last['id']} {last['status']}"
            print(f"  {name}: " + ", ".join(f"{k} {v:.2f}s" for k, v in results[name].items()))
    start = median_of([PY, "-c", "pass"], HERE, args.repeat)
    lite_r, pg_r = results["SQLite"], results["PostgreSQL"]
    rows = [
        ("`headwater run`, nothing new", "run", "< 1 s on PostgreSQL"),
        ("`headwater history`", "history", "fast path: no SQLAlchemy"),
        ("`headwater history --format json --limit 1000`", "history_json", ""),
    ]
    body = "\n".join(
        [
            versions_line(),
            f"Command: `python benchmarks/records_pg.py --rows {args.rows} --runs {args.runs} "
            f"--repeat {args.repeat}` (medians; whole processes, wall time, after one warm-up "
            "each). PostgreSQL: a local cluster with default settings (fsync on), over TCP "
            "on 127.0.0.1.",
            f"Data: {args.rows:,} rows ingested and a first model deployed, then "
            f"{args.runs:,} more runs in the records; the PostgreSQL copy made by `headwater "
            "records copy`. `python -c pass` takes "
            f"{start:.2f}s here.",
            "The last timed `run` as each store recorded it: "
            + "; ".join(f"{k}: {v}" for k, v in statuses.items())
            + ".",
            "",
            "| command | SQLite | PostgreSQL | PostgreSQL / SQLite | target |",
            "|---|---|---|---|---|",
            *(
                f"| {label} | {lite_r[key]:.2f}s | {pg_r[key]:.2f}s | "
                f"{pg_r[key] / lite_r[key]:.2f}× | {target} |"
                for label, key, target in rows
            ),
        ]
    )
    replace_section(Path(args.output), "records_pg", "Records on PostgreSQL vs SQLite", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
