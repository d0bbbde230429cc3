"""`[model] estimator` names a scikit-learn estimator class, nothing else (#13 item 9)."""

import pytest

from headwater import ConfigError
from tests.conftest import put


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("subprocess.run", '{ args = "touch {marker}", shell = true }'),
        ("os.system", '{ command = "touch {marker}" }'),
        ("shutil.rmtree", '{ path = "{victim}" }'),
        ("collections.OrderedDict", "{}"),  # a class, but not an estimator
    ],
)
def test_an_estimator_path_that_is_not_an_sklearn_estimator_runs_nothing(
    make_project, tmp_path, estimator, params
):
    marker, victim = tmp_path / "ran", tmp_path / "keep"
    victim.mkdir()
    (victim / "f").write_text("x")
    body = params.replace("{marker}", str(marker)).replace("{victim}", str(victim))
    p = make_project(extra=f'[model]\ntarget = "y"\nestimator = "{estimator}"\nparams = {body}\n')
    put(tmp_path / "incoming/a.csv", "x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    p.ingest()
    with pytest.raises(ConfigError) as info:
        p.train()
    assert repr(estimator) in str(info.value) and "nothing was run" in str(info.value)
    assert not marker.exists(), "the configured callable ran"
    assert (victim / "f").exists(), "the configured callable removed files"
    assert p.history(limit=1)[0]["status"] == "failed"


def test_a_real_estimator_still_trains(make_project, tmp_path):
    p = make_project(
        extra='[model]\ntarget = "y"\nestimator = "sklearn.tree.DecisionTreeClassifier"\n'
    )
    put(tmp_path / "incoming/a.csv", "x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    p.ingest()
    assert p.train()["model_version"] == 1
