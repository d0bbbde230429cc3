"""The dataset folder is trusted only as far as this project wrote it (issue #13, items 4, 10).

- the orphan sweep removes only parts that a run of this project's records wrote and never
  committed; any other file in the dataset folder stays;
- a dataset folder is owned by one project (``headwater-dataset.json``); a second project
  pointing at it is refused before it writes or removes anything;
- what headwater writes is never group- or world-writable, whatever the umask;
- a part changed after it was written (size, Parquet magic bytes) is a clear error on
  every read, not silently used.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater import Project, ProjectError
from tests.conftest import put, run_cli, write_toml

MARKER = "headwater-dataset.json"


def _project(root: Path, dataset_path: str = "data", extra: str = "") -> Project:
    write_toml(
        root,
        f'[project]\nname = "{root.name}"\n[[sources]]\npath = "in"\n'
        f'[dataset]\nname = "d"\npath = "{dataset_path}"\nsettle_seconds = 0\n'
        '[engine]\nthreads = 1\nmemory_limit = "256MB"\n' + extra,
    )
    (root / "in").mkdir(exist_ok=True)
    return Project.open(root)


def _values(project: Project, version=None) -> list:
    return sorted(r["x"] for r in project.read(version).to_pylist())


# -- item 4: the sweep and the owner of a dataset folder ---------------------------------


def test_a_second_project_on_the_same_dataset_folder_is_refused_and_deletes_nothing(tmp_path):
    shared = tmp_path / "shared"
    a = _project(tmp_path / "a", str(shared))
    put(tmp_path / "a/in/one.csv", "x\n1\n2\n")
    assert a.ingest().dataset_version == 1
    parts = sorted(p.name for p in (shared / "d/parts").iterdir())
    b = _project(tmp_path / "b", str(shared))
    put(tmp_path / "b/in/two.csv", "x\n7\n")
    with pytest.raises(ProjectError) as err:
        b.ingest()
    msg = str(err.value)
    assert str(shared / "d") in msg and str(tmp_path / "a") in msg and str(tmp_path / "b") in msg
    assert "[dataset] path" in (err.value.hint or "")
    # project a's data is untouched and still reads
    assert sorted(p.name for p in (shared / "d/parts").iterdir()) == parts
    assert _values(a) == [1, 2]
    assert [r["status"] for r in b.history()] == ["failed"]
    # the CLI says so with exit code 2
    proc = run_cli("ingest", "-p", str(tmp_path / "b"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(tmp_path / "a") in proc.stdout + proc.stderr


def test_a_copy_of_a_project_sharing_its_external_dataset_folder_is_refused(tmp_path):
    shared = tmp_path / "shared"
    a = _project(tmp_path / "a", str(shared))
    put(tmp_path / "a/in/one.csv", "x\n1\n")
    a.ingest()
    a.close()
    shutil.copytree(tmp_path / "a", tmp_path / "copy")  # same records, same dataset folder
    put(tmp_path / "copy/in/two.csv", "x\n2\n")
    with pytest.raises(ProjectError, match="belongs to another project"):
        Project.open(tmp_path / "copy").ingest()
    assert _values(Project.open(tmp_path / "a")) == [1]


def test_a_moved_or_copied_project_keeps_working_with_its_own_dataset(tmp_path):
    a = _project(tmp_path / "a")
    put(tmp_path / "a/in/one.csv", "x\n1\n")
    a.ingest()
    a.close()
    shutil.copytree(tmp_path / "a", tmp_path / "copy")  # dataset inside: the copy has its own
    put(tmp_path / "copy/in/two.csv", "x\n2\n")
    copy = Project.open(tmp_path / "copy")
    assert copy.ingest().dataset_version == 2
    assert _values(copy) == [1, 2] and _values(Project.open(tmp_path / "a")) == [1]
    marker = json.loads((tmp_path / "copy/data/d" / MARKER).read_text())
    assert marker["project"] == str(tmp_path / "copy")
    # moving a project whose dataset lives outside it: the old place is gone, so it adopts
    shared = tmp_path / "ext"
    b = _project(tmp_path / "b", str(shared))
    put(tmp_path / "b/in/one.csv", "x\n5\n")
    b.ingest()
    b.close()
    shutil.move(tmp_path / "b", tmp_path / "b2")
    put(tmp_path / "b2/in/two.csv", "x\n6\n")
    moved = Project.open(tmp_path / "b2")
    assert moved.ingest().dataset_version == 2 and _values(moved) == [5, 6]


def test_records_that_did_not_write_the_folder_are_refused(tmp_path):
    a = _project(tmp_path / "a")
    put(tmp_path / "a/in/one.csv", "x\n1\n")
    a.ingest()
    a.close()
    shutil.rmtree(tmp_path / "a/.headwater")  # the records are lost; the parts are not theirs
    with pytest.raises(ProjectError, match="another record store") as err:
        Project.open(tmp_path / "a").ingest()
    assert "backup" in (err.value.hint or "")
    assert len(list((tmp_path / "a/data/d/parts").iterdir())) == 1


def test_a_folder_made_by_an_earlier_version_is_adopted(tmp_path):
    a = _project(tmp_path / "a")
    put(tmp_path / "a/in/one.csv", "x\n1\n")
    a.ingest()
    marker = tmp_path / "a/data/d" / MARKER
    marker.unlink()  # what headwater wrote before markers existed
    put(tmp_path / "a/in/two.csv", "x\n2\n")
    assert a.ingest().dataset_version == 2 and _values(a) == [1, 2]
    body = json.loads(marker.read_text())
    assert body["dataset"] == "d" and body["project"] == str(tmp_path / "a")


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from headwater import Project
    def progress(stage, done, total, detail):
        if stage == "publish":
            os.kill(os.getpid(), signal.SIGKILL)
    Project.open(sys.argv[1]).ingest(progress=progress)
    """
)


def test_the_sweep_removes_only_parts_a_run_of_this_project_left(tmp_path):
    a = _project(tmp_path / "a")
    put(tmp_path / "a/in/one.csv", "x\n1\n")
    a.ingest()
    folder = tmp_path / "a/data/d"
    # files this project did not write: they stay, whatever their names
    foreign = [
        folder / "parts/notes.txt",
        folder / "parts/run000002-0123456789ab.parquet",  # our scheme, not our run's name
        folder / "retractions/run000002-0123456789ab.parquet",
        folder / "versions/v000009.json",
    ]
    for f in foreign:
        put(f, "not headwater's\n")
    # a run killed after writing its part, before the commit
    put(tmp_path / "a/in/two.csv", "x\n2\n")
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path / "a")], capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = {p.name for p in (folder / "parts").iterdir()} - {f.name for f in foreign}
    assert len(left) == 2  # the committed part and the dead run's
    result = a.ingest()
    assert result.orphans_removed == 1 and result.dataset_version == 2
    assert all(f.exists() for f in foreign)
    assert _values(a) == [1, 2]


# -- item 10: modes and checked parts --------------------------------------------------


MODEL = """
[model]
target = "y"
features = ["x"]
estimator = "sklearn.linear_model.LogisticRegression"
"""


def _train_rows(n: int = 120) -> str:
    return "x,y\n" + "".join(f"{i},{int(i % 7 > 2)}\n" for i in range(n))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_written_under_a_permissive_umask_are_not_group_or_world_writable(tmp_path):
    root = tmp_path / "p"
    old = os.umask(0)
    try:
        p = _project(root, extra=MODEL)
        p.records  # noqa: B018 - the record store creates .headwater
        put(root / "in/a.csv", _train_rows())
        p.ingest()
        p.train()
        p.models()
    finally:
        os.umask(old)
    d = root / "data/d"
    folders = [root / ".headwater", d.parent, d, d / "parts", d / "versions"]
    folders += [root / "models", root / "models/v0001"]
    files = [root / ".headwater/records.db", d / MARKER, *(d / "parts").iterdir()]
    files += [*(d / "versions").iterdir(), *(root / "models/v0001").iterdir()]
    files += [root / "models/score_history.png"]
    assert len(files) >= 8
    assert {str(f.relative_to(root)): oct(_mode(f)) for f in folders} == {
        str(f.relative_to(root)): "0o755" for f in folders
    }
    assert {str(f.relative_to(root)): oct(_mode(f)) for f in files} == {
        str(f.relative_to(root)): "0o644" for f in files
    }
    for f in (root / ".headwater").glob("records.db*"):
        assert not _mode(f) & 0o022, f


def test_a_stricter_umask_is_kept(tmp_path):
    old = os.umask(0o077)
    try:
        p = _project(tmp_path / "p")
        put(tmp_path / "p/in/a.csv", "x\n1\n")
        p.ingest()
    finally:
        os.umask(old)
    part = next((tmp_path / "p/data/d/parts").iterdir())
    assert _mode(part) == 0o600 and _mode(part.parent) == 0o700


def _tamper_rewrite(part: Path) -> None:
    """A part edited by hand: a valid Parquet file with other rows, of another size."""
    table = pq.read_table(part)
    before = part.stat().st_size
    changed = table.set_column(
        table.column_names.index("x"), "x", pa.array([99] * table.num_rows, type=pa.int64())
    )
    pq.write_table(changed, part, compression="snappy")
    assert part.stat().st_size != before


def _tamper_footer(part: Path) -> None:
    """Same size, but the trailing magic bytes are gone (a truncated copy padded, say)."""
    data = bytearray(part.read_bytes())
    data[-4:] = b"\0\0\0\0"
    part.write_bytes(bytes(data))


@pytest.fixture
def damaged(tmp_path, request):
    p = _project(tmp_path / "p", extra=MODEL)
    put(tmp_path / "p/in/a.csv", _train_rows())
    p.ingest()
    part = next((tmp_path / "p/data/d/parts").iterdir())
    request.param(part)
    return p, part


def _reads(p: Project, tmp_path: Path) -> dict:
    return {
        "read": lambda: p.read(),
        "export": lambda: p.export(tmp_path / "out.csv"),
        "compare": lambda: p.compare("d@1", "d@latest"),
        "train": lambda: p.train(),
        "diagnostics": lambda: p.diagnostics(),
        "ingest": lambda: (put(tmp_path / "p/in/b.csv", "x,y\n500,1\n"), p.ingest()),
    }


@pytest.mark.parametrize("damaged", [_tamper_rewrite, _tamper_footer], indirect=True)
@pytest.mark.parametrize("use", ["read", "export", "compare", "train", "diagnostics", "ingest"])
def test_a_part_changed_by_hand_is_an_error_on_every_read(damaged, tmp_path, use):
    p, part = damaged
    with pytest.raises(ProjectError) as err:
        _reads(p, tmp_path)[use]()
    assert part.name in str(err.value)
    assert "--rebuild" in (err.value.hint or "") and "backup" in (err.value.hint or "")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("damaged", [_tamper_rewrite], indirect=True)
def test_a_changed_part_fails_export_with_exit_2_and_rebuild_recovers(damaged, tmp_path):
    p, part = damaged
    proc = run_cli("export", "-p", str(tmp_path / "p"), "-o", str(tmp_path / "out.csv"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert part.name in proc.stdout + proc.stderr
    result = p.ingest(rebuild=True)
    assert result.dataset_version == 2 and p.read().num_rows == 120
