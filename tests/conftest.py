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
def make_project(tmp_path: Path) -> ProjectFactory:
    """Create a project with one source folder ``incoming`` and the given [dataset] lines."""

    def _make(dataset: str = "", extra: str = "", sources: str | None = None) -> Project:
        src = sources if sources is not None else '[[sources]]\npath = "incoming"\n'
        body = (
            '[project]\nname = "t"\n\n'
            + src
            + '\n[dataset]\nname = "d"\n'
            + ("" if "settle_seconds" in dataset else "settle_seconds = 0\n")
            + textwrap.dedent(dataset)
            + '\n[engine]\nthreads = 2\nmemory_limit = "512MB"\n'
            + textwrap.dedent(extra)
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
