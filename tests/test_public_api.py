import headwater


def test_all_names_exist_and_are_sorted():
    for name in headwater.__all__:
        assert hasattr(headwater, name), name
    assert headwater.__all__ == sorted(headwater.__all__)


def test_every_error_is_a_headwater_error():
    for name in headwater.__all__:
        obj = getattr(headwater, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, headwater.HeadwaterError)


def test_error_carries_context_and_hint():
    err = headwater.SourceError("cannot list 'x'", hint="check it", path="x")
    assert err.path == "x"
    assert err.hint == "check it"
    assert str(err) == "cannot list 'x'"
    assert err.exit_code == 2
    assert headwater.IngestError("x").exit_code == 1
    assert headwater.LockError("x").transient is True
