from pathlib import Path

import pytest

from headwater import ConfigError, Project
from headwater.config import load_config
from tests.conftest import run_cli, write_toml


def test_defaults_and_relative_paths_resolve_against_the_project(tmp_path: Path):
    write_toml(tmp_path, '[[sources]]\npath = "incoming"\n[dataset]\nname = "x"\n')
    cfg = load_config(tmp_path)
    assert cfg.project.name == tmp_path.name
    assert cfg.resolve("incoming") == str(tmp_path.resolve() / "incoming")
    assert cfg.resolve("s3://bucket/x") == "s3://bucket/x"
    assert cfg.dataset_dir == str(tmp_path.resolve() / "data" / "x")
    assert cfg.engine.name == "duckdb"
    assert cfg.dataset.schema_mode == "evolve"


def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path):
    write_toml(tmp_path, '[dataset]\nnmae = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    msg = str(info.value)
    assert "'dataset.nmae'" in msg
    assert "did you mean 'name'" in msg


def test_bad_value_names_key_value_and_allowed_values(tmp_path: Path):
    write_toml(tmp_path, '[dataset]\nschema = "sometimes"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    msg = str(info.value)
    assert "dataset.schema" in msg and "'sometimes'" in msg and "evolve" in msg


def test_bad_source_value_names_the_list_index(tmp_path: Path):
    write_toml(tmp_path, '[[sources]]\npath = "a"\n[[sources]]\npath = "b"\ndelimiter = ";;"\n')
    with pytest.raises(ConfigError, match=r"sources\[1\]\.delimiter"):
        load_config(tmp_path)


def test_order_by_without_key_is_refused(tmp_path: Path):
    write_toml(tmp_path, '[dataset]\norder_by = "date"\n')
    with pytest.raises(ConfigError, match="order_by"):
        load_config(tmp_path)


def test_environment_overrides_the_file(tmp_path: Path):
    write_toml(tmp_path, '[engine]\nthreads = 1\nmemory_limit = "1GB"\n')
    cfg = load_config(
        tmp_path,
        env={"HEADWATER_ENGINE__THREADS": "3", "HEADWATER_DATASET__KEY": '["id"]', "PATH": "/x"},
    )
    assert cfg.engine.threads == 3
    assert cfg.dataset.key == ["id"]


def test_config_is_frozen(tmp_path: Path):
    write_toml(tmp_path, "")
    cfg = load_config(tmp_path)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own ValidationError
        cfg.engine.threads = 4  # type: ignore[misc]


def test_cli_reports_bad_toml_with_exit_2(tmp_path: Path):
    write_toml(tmp_path, "[dataset\nname=1\n")
    out = run_cli("history", "--project", str(tmp_path))
    assert out.returncode == 2
    assert "not valid TOML" in out.stderr
    assert "hint:" in out.stderr


def test_cli_without_project_says_how_to_create_one(tmp_path: Path):
    out = run_cli("history", cwd=tmp_path)
    assert out.returncode == 2
    assert "headwater init" in out.stderr


def test_init_writes_a_config_that_loads(tmp_path: Path):
    project = Project.init(tmp_path / "new", name="risk")
    assert project.config.project.name == "risk"
    assert (tmp_path / "new" / "incoming").is_dir()
    with pytest.raises(Exception, match="already exists"):
        Project.init(tmp_path / "new")
