"""Shared by the serve tests: a real uvicorn server in a thread, and the demo project the
dashboard tests read (built once for the package: the demo's loop runs take a while)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from headwater import Project

HOSTILE = '<img src=x onerror="alert(1)">&.csv'
"""A file name that is valid on Linux and is HTML (a page must show it as text)."""


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` under a real uvicorn on 127.0.0.1 (a free port), in a thread."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def build_demo(root: Path) -> Project:
    """The demo project (three loop runs: deployed, rejected, deployed after drift) plus an
    ingest of a file with a hostile name."""
    from headwater.examples import run_demo

    run_demo(root, rows=3000)
    broker = root / "brokers" / "broker_a"
    source = sorted(broker.glob("*.csv"))[0]
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    (broker / HOSTILE).write_text("".join(lines[:-1]), encoding="utf-8")
    project = Project.open(root, search_parents=False)
    project.ingest()
    return project


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The demo project for every dashboard test (tests may add runs, never remove any)."""
    project = build_demo(tmp_path_factory.mktemp("dash") / "demo")
    yield project
    project.close()
