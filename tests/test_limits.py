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


def test_every_limit_carries_the_numbers_of_its_sentence() -> None:
    lim = Limits(processes=12, leftover_s=3.0)
    assert lim.params("processes") == {"processes": 12}
    assert lim.params("leftover", count=2) == {"leftover_s": 3.0, "count": 2}
    for name in ("processes", "memory", "cpu", "wall", "output", "files", "leftover"):
        assert all(isinstance(v, int | float) for v in lim.params(name).values()), name
