"""Shared fixtures: tiny projects written into tmp_path, and ways to run the real CLI."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater import Project


def write_toml(root: Path, body: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "headwater.toml").write_text(textwrap.dedent(body), encoding="utf-8")


def age(path: Path, seconds: float = 3600) -> None:
    """Give a file an old modification time, so the settle check does not defer it."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def put(path: Path, text: str | bytes, *, old: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    if old:
        age(path)
    return path


ProjectFactory = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path, request: pytest.FixtureRequest) -> ProjectFactory:
    """Create a project with one source folder ``incoming`` and the given [dataset] lines.

    With ``HEADWATER_TEST_RECORDS=postgresql`` in the environment its records go to a
    fresh PostgreSQL database (the whole suite can run on PostgreSQL that way)."""
    records = ""
    if os.environ.get("HEADWATER_TEST_RECORDS") == "postgresql":
        records = _pg_database(request.getfixturevalue("pg_server"))

    def _make(
        dataset: str = "", extra: str = "", sources: str | None = None, engine: str = "duckdb"
    ) -> Project:
        src = sources if sources is not None else '[[sources]]\npath = "incoming"\n'
        body = (
            '[project]\nname = "t"\n\n'
            + src
            + '\n[dataset]\nname = "d"\n'
            + ("" if "settle_seconds" in dataset else "settle_seconds = 0\n")
            + textwrap.dedent(dataset)
            + (
                '\n[engine]\nthreads = 2\nmemory_limit = "512MB"\n'
                if engine == "duckdb"
                else f'\n[engine]\nname = "{engine}"\n'
            )
            + textwrap.dedent(extra)
            + ("" if "[records]" in extra else records)
        )
        (tmp_path / "incoming").mkdir(exist_ok=True)
        write_toml(tmp_path, body)
        return Project.open(tmp_path)

    return _make


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the ``headwater`` command in this process: ``main(argv)`` with its own working
    folder, environment and captured output, as a subprocess would see them.

    ``timeout`` is accepted for the subprocess form (:func:`run_cli_subprocess`), which the
    tests use only where a process is the point (start-up imports, ``kill -9``, a lock held
    by another process, a command that might hang).
    """
    from headwater.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({"COLUMNS": "200", **(env or {})})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["headwater", *args], code, out.getvalue(), err.getvalue())


def run_cli_subprocess(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``headwater`` command in a subprocess."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "headwater", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- a throw-away PostgreSQL cluster (issue #18), one per test run ----------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL cluster on a free port under a temp folder, run as the ``postgres``
    user (the server refuses root), trust auth on 127.0.0.1 only; stopped at the end.
    Skipped without Debian's postgresql package, except in CI (`make test` installs it)."""
    import pwd
    import shutil
    import socket
    import tempfile

    bin_dir = _pg_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the PostgreSQL tests: install postgresql")
        pytest.skip("needs Debian's postgresql package (`make test` installs it)")
    folder = Path(tempfile.mkdtemp(prefix="headwater-pg-"))
    user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    as_user = ["runuser", "-u", "postgres", "--"] if user else []
    if user:
        os.chown(folder, user.pw_uid, user.pw_gid)
    data = folder / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
         "-E", "UTF8"],
        check=True, capture_output=True,
    )  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
         "-o", options, "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


_databases = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def records_backend(request) -> str:
    """A ``[records]`` section for one test: "" (the project's own SQLite file) or a fresh
    PostgreSQL database on the session's cluster."""
    if request.param == "sqlite":
        return ""
    return _pg_database(request.getfixturevalue("pg_server"))


def _pg_database(server: str) -> str:
    """A fresh database on the cluster, as a ``[records]`` section."""
    import psycopg

    name = f"hw_test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f'\n[records]\nurl = "{server}/{name}"\n'


def records_url(section: str, folder: Path) -> str:
    """The URL a ``records_backend`` section names, or a SQLite file in ``folder``."""
    if section:
        return section.split('url = "', 1)[1].split('"', 1)[0]
    return f"sqlite:///{folder / 'records.db'}"


def use_records(root: Path, section: str) -> None:
    """Point the project in ``root`` at the record store ``section`` names."""
    if section:
        with open(root / "headwater.toml", "a", encoding="utf-8") as fh:
            fh.write(section)


# -- a local S3-compatible server (issue #17 item 4), one per test run -------------------


@pytest.fixture(scope="session")
def s3_server():
    """moto in server mode on 127.0.0.1 (a free port), the real S3 protocol over HTTP: the
    endpoint URL. Fake AWS credentials are set for the test process only (and restored),
    so that nothing here can reach a real account."""
    import logging

    from moto.server import ThreadedMotoServer

    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    saved = {k: os.environ.get(k) for k in fake}
    os.environ.update(fake)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- engines ---------------------------------------------------------------------------
# One session-scoped fixture per engine (ibis-style); `engine_name` parametrizes a test over
# every engine, and `@pytest.mark.notimpl(["spark"], reason=..., raises=...)` says where an
# engine truly lacks a feature: a strict xfail on that engine only, never a skip.

ENGINES = ("duckdb", "spark")


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory):
    """One local Spark session (``local[2]``) for the whole run; the Spark engine uses it
    as the active session (and so never stops it). Skipped without Java or pyspark, except
    in CI, where that fails."""
    import shutil

    why = None
    if shutil.which("java") is None:
        why = "needs a Java runtime (`make test` installs openjdk-17-jre-headless)"
    else:
        try:
            import ibis.backends.pyspark  # noqa: F401
            import pyspark  # noqa: F401
        except ImportError as exc:
            why = f"needs pyspark (pip install 'headwater[spark]'): {exc}"
    if why is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must run the Spark tests: {why}")
        pytest.skip(why)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers of Python UDFs
    base = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("headwater-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        # tiny data: compiling generated code costs more than interpreting it
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.warehouse.dir", str(base / "warehouse"))
        .config("spark.local.dir", str(base / "local"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={base / 'derby'}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(params=ENGINES, scope="session")
def engine_name(request: pytest.FixtureRequest) -> str:
    """Each engine's name in turn (Spark's session started once, on first use)."""
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    return str(request.param)


@pytest.fixture
def engine(engine_name: str, tmp_path: Path):
    """A connected engine of each kind, closed after the test."""
    from headwater.config import EngineConfig
    from headwater.engines import connect

    e = connect(EngineConfig(name=engine_name), tmp_path)  # type: ignore[arg-type]
    yield e
    e.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``notimpl`` on the engines it names: a strict xfail that must raise ``raises``."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("engine_name") if callspec is not None else None
        if name is None:
            continue
        for mark in item.iter_markers("notimpl"):
            engines, reason = mark.args[0], mark.kwargs["reason"]
            if name in engines:
                item.add_marker(
                    pytest.mark.xfail(strict=True, reason=reason, raises=mark.kwargs.get("raises"))
                )
