from __future__ import annotations

import pytest

from app.sandbox.limits import Limits


def test_overrides_are_clamped_to_the_server_maximum() -> None:
    maximum = Limits(wall_s=20, processes=32)
    lim = Limits().with_overrides({"wall_s": 100, "processes": 8}, maximum)
    assert lim.wall_s == 20 and lim.processes == 8


@pytest.mark.parametrize("bad", [{"walltime": 3}, {"wall_s": -1}, {"processes": "many"}, {"cpu_s": True}])
def test_bad_overrides_name_the_field(bad: dict) -> None:
    with pytest.raises(ValueError) as err:
        Limits().with_overrides(bad, Limits())
    assert next(iter(bad)) in str(err.value)


def test_messages_exist_in_both_languages_for_every_limit() -> None:
    lim = Limits()
    for name in ("processes", "memory", "cpu", "wall", "output", "files", "leftover"):
        msg = lim.message(name, count=2)
        assert msg["en"] and msg["zh"] and "{" not in msg["en"] + msg["zh"]
