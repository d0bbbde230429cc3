"""Running the app under uvicorn: one process, or ``workers`` processes (each opens the
project itself, from ``HEADWATER_SERVE_PROJECT``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fastapi

    from headwater.project import Project

LOCAL = ("127.0.0.1", "localhost", "::1")


def build(project: Project) -> fastapi.FastAPI:
    """The whole app: the JSON API and the dashboard (at ``/``, ``/ui/…``, ``/static/…``)."""
    from headwater.serve import dashboard
    from headwater.serve.app import create_app

    app = create_app(project)
    app.include_router(dashboard.router(project))
    return app


def app_from_env() -> fastapi.FastAPI:
    """The factory each uvicorn worker calls (``--workers`` over 1)."""
    from headwater.project import Project

    return build(Project.open(Path(os.environ["HEADWATER_SERVE_PROJECT"]), env=os.environ))


def exposed_without_token(project: Project, host: str) -> bool:
    """True when the server would listen beyond this host with its writes disabled
    and nothing else guarding it (the CLI warns)."""
    cfg = project.config.serve
    return host not in LOCAL and not (cfg.token_env and os.environ.get(cfg.token_env))


def check_address(host: str, port: int) -> None:
    """A ConfigError naming the address when it cannot be listened on (in use, not an
    address of this machine), before uvicorn logs a bare errno and exits 1."""
    import socket

    from headwater.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            s.bind(address)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pass another --port (or [serve] port), or stop what is listening there",
            key="serve.port",
            value=port,
        ) from None


def serve(project: Project, host: str, port: int, workers: int) -> None:
    """Serve until interrupted (uvicorn handles SIGINT/SIGTERM gracefully)."""
    import uvicorn

    check_address(host, port)

    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info"}
    if workers > 1:
        os.environ["HEADWATER_SERVE_PROJECT"] = str(project.root)
        uvicorn.run("headwater.serve.server:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(build(project), **options)
