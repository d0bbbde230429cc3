"""Cron expressions with Debian cron's semantics, and their next fire times.

Debian's cron (Vixie cron with Debian's patches) reads five fields — minute (0-59), hour
(0-23), day of month (1-31), month (1-12 or ``jan``-``dec``), day of week (0-7, 0 and 7
are Sunday, or ``sun``-``sat``) — each a list (``,``) of ``*``, a number, a range
(``a-b``), or a step (``*/n``, ``a-b/n``); names are case-insensitive. It has the macros
``@hourly`` ``@daily`` ``@midnight`` ``@weekly`` ``@monthly`` ``@yearly`` ``@annually``
(and ``@reboot``, for crontab entries only). When both day fields are restricted (neither
starts with ``*``), a day matches either (the OR rule); otherwise both must match.

It has no seconds field, and none of ``L``, ``W``, ``#`` or ``?`` (Quartz's extensions):
those are refused here, with the field, although :mod:`cronsim` (which computes the fire
times, with Debian's DST rules) would accept some of them. A step after a single number
(``5/10``) is refused too, as Debian refuses it.

DST, as Debian: a job at a fixed time (minute and hour both without ``*``) in an hour the
clocks skip runs right after the jump, and in an hour they repeat it runs once; a job with
``*`` in the minute or hour fields follows the wall clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from headwater.errors import ConfigError

FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
REBOOT = "@reboot"
EXAMPLE = '"*/10 * * * *" (every 10 minutes), "30 2 * * mon-fri", "@daily"'
_QUARTZ = re.compile(r"[#?]|^(l|w|lw|\d+[lw])$")
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


@dataclass(frozen=True)
class Expression:
    """A valid expression: ``text`` as given, ``fields`` the five fields it means (None for
    ``@reboot``)."""

    text: str
    fields: str | None

    @property
    def reboot(self) -> bool:
        return self.fields is None


def parse(text: str, *, reboot_ok: bool = True) -> Expression:
    """Check ``text`` the way Debian's cron reads it; ConfigError naming the bad field."""
    raw = " ".join(str(text).split())
    if not raw:
        _refuse(text, "it is empty")
    lowered = raw.lower()
    if lowered.startswith("@"):
        if lowered == REBOOT:
            if not reboot_ok:
                _refuse(text, "@reboot only exists for crontab entries (`schedule add`)")
            return Expression(raw, None)
        if lowered not in MACROS:
            _refuse(text, f"{raw!r} is not a cron macro (they are {', '.join(MACROS)}, @reboot)")
        return Expression(raw, MACROS[lowered])
    parts = lowered.split(" ")
    if len(parts) != 5:
        more = " (cron has no seconds or years field)" if len(parts) > 5 else ""
        _refuse(text, f"it has {len(parts)} field(s), cron reads 5{more}")
    for value, (name, low, high) in zip(parts, FIELDS, strict=True):
        _check_field(text, value, name, low, high)
    return Expression(raw, lowered)


def _check_field(text: str, value: str, name: str, low: int, high: int) -> None:
    names = MONTHS if name == "month" else DAYS if name == "day of week" else ()
    for item in value.split(","):
        if _QUARTZ.search(item):
            _refuse(text, f"{name} {item!r}: Debian's cron has no L, W, # or ? (Quartz's)")
        m = _ITEM.match(item)
        if m is None:
            _refuse(text, f"{name} {item!r} is not *, N, A-B, */N or A-B/N")
            return
        star, first, last, step = m.groups()
        if step is not None:
            if star is None and last is None:
                _refuse(text, f"{name} {item!r}: a step needs * or a range (e.g. 0-59/{step})")
            if int(step) == 0:
                _refuse(text, f"{name} {item!r}: a step of 0")
        if star:
            continue
        a = _number(text, first, name, low, high, names)
        if last is not None:
            b = _number(text, last, name, low, high, names)
            if b < a:
                _refuse(text, f"{name} {item!r}: the range runs backwards")


def _number(text: str, token: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if token.isdigit():
        n = int(token)
        if not low <= n <= high:
            _refuse(text, f"{name} {token!r} is outside {low}-{high}")
        return n
    if token in names:
        return names.index(token) + (1 if name == "month" else 0)
    allowed = f" or {names[0]}-{names[-1]}" if names else ""
    _refuse(text, f"{name} {token!r} is not a number {low}-{high}{allowed}")
    raise AssertionError  # unreachable: _refuse raises


def _refuse(text: str, why: str) -> None:
    raise ConfigError(
        f"bad cron expression {str(text)!r}: {why}",
        hint=f"five fields: minute hour day-of-month month day-of-week, e.g. {EXAMPLE}",
        key="cron",
    )


def local_zone() -> dt.tzinfo:
    """The zone cron uses: ``TZ`` if set, else the system's /etc/localtime, with its DST
    rules (``datetime.now().astimezone()`` would give a fixed offset, blind to DST)."""
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return dt.datetime.now().astimezone().tzinfo or dt.UTC


def now_local() -> dt.datetime:
    return dt.datetime.now(local_zone())


@dataclass(frozen=True)
class Fire:
    """One fire time, in the zone it was computed in, with a note when DST moved it."""

    at: dt.datetime
    note: str = ""


def next_fires(expr: Expression | str, count: int, start: dt.datetime) -> list[Fire]:
    """The next ``count`` fire times after ``start`` (an aware datetime: its zone is the
    one cron uses), with Debian's DST behaviour and a note on the times it affects."""
    from cronsim import CronSim

    e = parse(expr) if isinstance(expr, str) else expr
    if e.reboot:
        return []
    assert e.fields is not None
    sim = CronSim(e.fields, start)
    out: list[Fire] = []
    previous = start
    for at in sim:
        out.append(Fire(at, _dst_note(sim, at, previous)))
        previous = at
        if len(out) >= count:
            break
    return out


def _dst_note(sim: object, at: dt.datetime, previous: dt.datetime) -> str:
    """What DST does to this fire, if anything: a time the clocks skipped (the job runs
    right after the jump) or a time that happens twice (a job at a fixed time runs once)."""
    fixed = getattr(sim, "fixup_tz", None) is not None  # minute and hour without *
    hours: set[int] = getattr(sim, "hours", set())
    minutes: set[int] = getattr(sim, "minutes", set())
    if fixed and (at.hour not in hours or at.minute not in minutes):
        return "DST: its time did not exist today (clocks went forward); runs right after"
    if at.replace(fold=0).utcoffset() != at.replace(fold=1).utcoffset():
        if fixed:
            return "DST: this time happens twice today (clocks go back); runs once"
        return "DST: in the hour that happens twice (clocks go back); follows the wall clock"
    before, after = previous.utcoffset(), at.utcoffset()
    if not fixed and before is not None and after is not None and after > before:
        return "DST: clocks went forward before it; the skipped hour has no run"
    return ""
