"""Scheduling: crontab entries headwater validates, installs and removes, and a foreground
scheduler for ``[[schedule]]`` in headwater.toml (``headwater schedule …``).

Both start the job as a child process with its trigger (``cron`` or ``scheduler``) and
entry in the environment; every run records them (``runs.trigger``,
``runs.schedule_entry``). Two fires never run at once: the second finds the project lock
held and is recorded ``skipped``, naming the holder.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater.cron import Fire, next_fires, now_local, parse
from headwater.records import schema as rs
from headwater.schedule import crontab
from headwater.schedule.runner import Planned, Scheduler, fire, log_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from headwater.workspace import Workspace


def add(
    ws: Workspace, expression: str, job: str = "run", name: str | None = None
) -> dict[str, Any]:
    """Add a crontab entry for this project; returns it as :func:`listing` shows it."""
    expr = parse(expression)
    text = crontab.read()
    crontab.write(crontab.with_entry(text, ws.root, expr, job, name))
    ident = crontab.entry_id(ws.root, expr, job)
    log_path(ws.root).parent.mkdir(parents=True, exist_ok=True)
    return next(e for e in listing(ws) if e["id"] == ident)


def remove(ws: Workspace, ids: list[str] | None) -> list[dict[str, Any]]:
    """Remove this project's crontab entries ``ids`` (all of them with None); the user's
    other lines stay byte for byte. ScheduleError for an id this project does not have."""
    from headwater.errors import ScheduleError

    text = crontab.read()
    mine = {e.id for e in crontab.entries(text, ws.root)}
    unknown = [i for i in (ids or []) if i not in mine]
    if unknown:
        raise ScheduleError(
            f"this project has no crontab entry {', '.join(map(repr, unknown))}",
            hint="`headwater schedule list` shows its entries and their ids",
        )
    new, gone = crontab.without(text, None if ids is None else set(ids), ws.root)
    if gone:
        crontab.write(new)
    return [{"id": e.id, "expression": e.expression, "job": e.job} for e in gone]


def listing(ws: Workspace, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """This project's entries — in the user's crontab (``source`` crontab) and in
    ``[[schedule]]`` (``source`` config) — with the next fire time and the last run each
    fired. Without a crontab command, only the config's (the crontab's are then unknown)."""
    from headwater.errors import ScheduleError

    start = now or now_local()
    found: list[dict[str, Any]] = []
    try:
        cron_entries = crontab.entries(crontab.read(), ws.root)
    except ScheduleError:
        cron_entries = []
    for c in cron_entries:
        found.append(_entry(c.id, "crontab", c.expression, c.job, c.name, start))
    for p in planned(ws):
        found.append(_entry(p.id, "config", p.expression, p.job, p.name, start))
    last = _last_runs(ws, [e["id"] for e in found])
    for e in found:
        e["last_run"] = last.get(e["id"])
    return found


def _entry(
    ident: str, source: str, expression: str, job: str, name: str | None, start: dt.datetime
) -> dict[str, Any]:
    expr = parse(expression)
    fires = next_fires(expr, 1, start)
    return {
        "id": ident,
        "source": source,
        "expression": expr.text,
        "job": job,
        "name": name,
        "next": fires[0].at.isoformat() if fires else None,
        "next_note": fires[0].note if fires else ("at boot" if expr.reboot else ""),
    }


def _last_runs(ws: Workspace, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest top-level run each entry fired: id, status, started."""
    if not ids:
        return {}
    c = rs.runs.c
    out: dict[str, dict[str, Any]] = {}
    with ws.records.read() as conn:
        rows = conn.execute(
            sa.select(c.id, c.schedule_entry, c.status, c.started, c.trigger)
            .where(c.schedule_entry.in_(ids), c.parent_id.is_(None))
            .order_by(c.id.desc())
        ).all()
    for r in rows:
        out.setdefault(
            r.schedule_entry,
            {"run_id": r.id, "status": r.status, "started": r.started, "trigger": r.trigger},
        )
    return out


def next_times(expression: str, count: int = 5, now: dt.datetime | None = None) -> list[Fire]:
    """The next ``count`` fire times of ``expression`` in local time, DST noted."""
    return next_fires(parse(expression), count, now or now_local())


def planned(ws: Workspace) -> list[Planned]:
    """``[[schedule]]`` entries, as the foreground scheduler runs them."""
    return [
        Planned(crontab.entry_id(ws.root, parse(s.cron), s.job), s.cron, s.job, s.name)
        for s in ws.config.schedule
    ]


def scheduler(ws: Workspace, say: Callable[[str], None]) -> Scheduler:
    """The foreground scheduler over ``[[schedule]]``; ScheduleError when there is none."""
    from headwater.errors import ScheduleError

    entries = planned(ws)
    if not entries:
        raise ScheduleError(
            "headwater.toml has no [[schedule]] entry for `schedule run` to fire",
            hint='add one, e.g.\n[[schedule]]\ncron = "*/10 * * * *"\njob = "run"',
        )
    return Scheduler(ws.root, entries, say)


__all__ = ["add", "fire", "listing", "next_times", "planned", "remove", "scheduler"]
