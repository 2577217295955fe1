"""The classroom benchmarks (bench/burst.py, bench/hall.py) work at tiny sizes against real servers. No timing
is asserted: the figures go to docs/benchmarks.md."""

from __future__ import annotations

import pytest

from bench import burst, hall
from bench.common import Unavailable
from bench.sizes import Sizes


@pytest.mark.timeout(600)
def test_burst_and_hall_tiny() -> None:
    sizes = Sizes.tiny()
    try:
        b = burst.run(sizes)
        h = hall.run(sizes)
    except Unavailable as e:
        pytest.skip(f"the sandbox is not available here: {e}")
    for shape in ("spread", "at_once"):
        d = b.raw[shape]
        assert d["ok"] == sizes.burst_students and d["finished"] == sizes.burst_students
        assert all(p["status"] == 201 and p["position"] is not None for p in d["presses"])
    assert h.raw["clients"] == sizes.hall_students
    assert h.raw["lost"] == 0 and h.raw["duplicates"] == 0 and h.raw["client_errors"] == 0
    assert any(f.name == "server memory per student" for f in h.figures)
    # A student whose browser stops reading is dropped with a reason, then resumes with ?after= and loses nothing.
    stalled = h.raw["stalled"]["students"]
    assert len(stalled) == sizes.hall_stalled
    for s in stalled:
        assert s["code"] == 4008 and "after=" in s["reason"], s
        assert s["before"] < h.raw["stalled"]["events"] and s["lost"] == 0 and s["duplicates"] == 0, s
