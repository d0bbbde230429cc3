"""Cron expressions with Debian cron's rules, and their fire times across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from headwater.config import load_config
from headwater.cron import next_fires, parse
from headwater.errors import ConfigError
from tests.conftest import write_toml

UTC = dt.UTC


def times(expr: str, start: dt.datetime, n: int) -> list[str]:
    return [f.at.isoformat() for f in next_fires(expr, n, start)]


@pytest.mark.parametrize(
    "expr",
    [
        "*/10 * * * *",
        "0 3 * * *",
        "30 2 * * mon-fri",
        "0 9 1,15 * *",
        "0-30/5 8-18 * jan-mar,dec SUN",
        "0 0 * * 7",  # 7 is Sunday too
        "@hourly",
        "@DAILY",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "  5   4  *  *  *  ",
    ],
)
def test_valid_expressions(expr):
    assert parse(expr).text == " ".join(expr.split())


@pytest.mark.parametrize(
    "expr, words",
    [
        ("* * * *", "4 field(s)"),
        ("0 * * * * *", "no seconds"),  # Quartz/croniter seconds: Debian has none
        ("0 0 L * *", "no L, W, # or ?"),
        ("0 0 15W * *", "no L, W, # or ?"),
        ("0 0 * * 5L", "no L, W, # or ?"),
        ("0 0 * * 5#2", "no L, W, # or ?"),
        ("0 0 ? * *", "no L, W, # or ?"),
        ("5/10 * * * *", "a step needs * or a range"),  # Debian refuses, cronsim accepts
        ("60 * * * *", "minute '60' is outside 0-59"),
        ("* 24 * * *", "hour '24' is outside 0-23"),
        ("* * 0 * *", "day of month '0' is outside 1-31"),
        ("* * * 13 *", "month '13' is outside 1-12"),
        ("* * * * 8", "day of week '8' is outside 0-7"),
        ("* * * foo *", "month 'foo' is not a number 1-12 or jan-dec"),
        ("* * * * funday", "day of week 'funday' is not a number 0-7 or sun-sat"),
        ("10-5 * * * *", "runs backwards"),
        ("*/0 * * * *", "a step of 0"),
        ("@every5m", "not a cron macro"),
        ("", "empty"),
    ],
)
def test_invalid_expressions_name_the_field_and_show_an_example(expr, words):
    with pytest.raises(ConfigError) as err:
        parse(expr)
    assert words in str(err.value)
    assert "*/10 * * * *" in (err.value.hint or "")


def test_croniter_accepts_what_debian_refuses():
    """The reason this module checks the syntax itself: croniter reads a sixth (seconds)
    field and Quartz's L / # as valid, which Debian's cron would refuse to install."""
    croniter = pytest.importorskip("croniter")
    for expr in ("0 0 L * *", "0 0 * * 5#2", "0 * * * * 30"):
        assert croniter.croniter.is_valid(expr)
        with pytest.raises(ConfigError):
            parse(expr)


def test_reboot_is_for_crontab_entries_only():
    assert parse("@reboot").reboot
    with pytest.raises(ConfigError, match="crontab entries"):
        parse("@reboot", reboot_ok=False)


def test_names_are_case_insensitive_and_mean_their_numbers():
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday
    assert times("0 12 * feb MON", start, 2) == times("0 12 * 2 1", start, 2)
    assert times("0 12 * * sun", start, 1) == times("0 12 * * 7", start, 1)
    assert times("0 12 * * sun", start, 1) == ["2026-01-04T12:00:00+00:00"]


def test_day_of_month_and_day_of_week_or_rule():
    start = dt.datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
    # both restricted: the 13th OR any Friday
    got = times("0 0 13 * fri", start, 4)
    assert got == [
        "2026-06-05T00:00:00+00:00",  # Friday
        "2026-06-12T00:00:00+00:00",  # Friday
        "2026-06-13T00:00:00+00:00",  # the 13th (a Saturday)
        "2026-06-19T00:00:00+00:00",
    ]
    # one side is *: both must match (Fridays only)
    assert times("0 0 * * fri", start, 2) == got[:2]


def test_config_schedule_entries_are_validated(tmp_path):
    write_toml(tmp_path, '[[schedule]]\ncron = "0 0 L * *"\n')
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert "schedule" in str(err.value) and "no L, W, # or ?" in str(err.value)
    write_toml(tmp_path, '[[schedule]]\ncron = "@reboot"\n')
    with pytest.raises(ConfigError, match="crontab entries"):
        load_config(tmp_path)
    write_toml(tmp_path, '[[schedule]]\ncron = "*/5 * * * *"\njob = "ingest"\nname = "fast"\n')
    [entry] = load_config(tmp_path).schedule
    assert (entry.cron, entry.job, entry.name) == ("*/5 * * * *", "ingest", "fast")


# -- DST, as Debian's cron handles it -------------------------------------------------


@pytest.mark.parametrize(
    "zone, day, skipped",
    [
        ("Europe/Berlin", dt.date(2026, 3, 29), "02:30"),
        ("America/New_York", dt.date(2026, 3, 8), "02:30"),
    ],
)
def test_a_job_in_the_skipped_hour_runs_right_after_the_jump(zone, day, skipped):
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tz)
    fires = next_fires("30 2 * * *", 3, start)
    first = fires[0]
    assert first.at.date() == day and first.at.strftime("%H:%M") == "03:00"
    assert "did not exist" in first.note and "runs right after" in first.note
    assert fires[1].at.strftime("%H:%M") == skipped and not fires[1].note


@pytest.mark.parametrize(
    "zone, day, hour",
    [("Europe/Berlin", dt.date(2026, 10, 25), 2), ("America/New_York", dt.date(2026, 11, 1), 1)],
)
def test_a_job_in_the_repeated_hour_runs_once(zone, day, hour):
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tz)
    fires = next_fires(f"30 {hour} * * *", 3, start)
    on_the_day = [f for f in fires if f.at.date() == day]
    assert len(on_the_day) == 1, fires  # not twice
    assert "happens twice" in on_the_day[0].note and "runs once" in on_the_day[0].note
    # a job with * in the hour follows the wall clock: it runs in both copies of the hour
    hourly = [f for f in next_fires("0 * * * *", 40, start) if f.at.date() == day]
    repeated = [f for f in hourly if f.at.hour == hour]
    assert len(repeated) == 2 and all("twice" in f.note for f in repeated)
    assert repeated[0].at.utcoffset() != repeated[1].at.utcoffset()


def test_utc_has_no_dst_notes():
    start = dt.datetime(2026, 3, 28, tzinfo=UTC)
    assert all(not f.note for f in next_fires("30 2 * * *", 5, start))
