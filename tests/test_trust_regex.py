"""A ``regex`` rule is checked in the engine's own dialect (issue #13, item 15).

Python's ``re`` accepts look-arounds and back-references; DuckDB's RE2 does not. Such a
rule is a configuration error naming the rule, found before any file is read, and
recorded as a failed run — never an engine crash reported as a bug.
"""

from __future__ import annotations

import pytest

from headwater import ConfigError
from tests.conftest import put, run_cli

LOOK_AHEAD = "(?=.*[0-9]).+"
BACK_REFERENCE = r"(a)\1"


@pytest.mark.parametrize("pattern", [LOOK_AHEAD, BACK_REFERENCE])
def test_a_regex_the_engine_rejects_is_a_config_error_naming_the_rule(
    make_project, tmp_path, pattern
):
    p = make_project(f"[dataset.columns.code]\nregex = '{pattern}'\n")
    put(tmp_path / "incoming/a.csv", "code,n\na1,1\nb2,2\n")
    with pytest.raises(ConfigError) as err:
        p.ingest()
    message = str(err.value)
    assert "'code'" in message and "regex" in message and repr(pattern) in message
    assert "RE2" in (err.value.hint or "")
    failed = p.history()[0]
    assert failed["kind"] == "ingest" and failed["status"] == "failed"
    assert repr(pattern) in failed["error"]
    assert p.versions() == []  # nothing was written


def test_the_cli_exits_2_on_an_engine_rejected_regex_and_says_no_bug(make_project, tmp_path):
    make_project(f"[dataset.columns.code]\nregex = '{LOOK_AHEAD}'\n")
    put(tmp_path / "incoming/a.csv", "code\na1\n")
    proc = run_cli("ingest", "-p", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "bug" not in proc.stderr and repr(LOOK_AHEAD) in proc.stderr


def test_a_regex_both_dialects_accept_still_validates_rows(make_project, tmp_path):
    p = make_project("[dataset.columns.code]\nregex = '[a-z][0-9]'\n")
    put(tmp_path / "incoming/a.csv", "code\na1\nzz\n")
    r = p.ingest()
    assert (r.status, r.rows_added, r.rows_rejected) == ("partial", 1, 1)


def test_the_engine_reports_why_it_rejects_a_pattern(make_project):
    p = make_project()
    engine = p.workspace.engine()
    assert engine.check_regex("[a-z]+") is None
    assert engine.check_regex(LOOK_AHEAD)  # a non-empty reason from RE2
    assert engine.check_regex(BACK_REFERENCE)
