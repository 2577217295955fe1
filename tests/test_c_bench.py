"""The C start benchmark (bench/cstart.py) works: tiny size against a real server. No timing is asserted."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cstart  # noqa: E402
from bench.common import Unavailable  # noqa: E402
from bench.sizes import Sizes  # noqa: E402


@pytest.mark.timeout(600)
def test_cstart_tiny() -> None:
    sizes = Sizes.tiny()
    try:
        res = cstart.run(sizes)
    except Unavailable as e:
        pytest.skip(f"the sandbox or gcc is not available here: {e}")
    assert res.error is None, res.error
    assert len(res.raw["runs"]) == len(res.raw["plain"]) == len(res.raw["plain_niced"]) == sizes.c_starts
    for r in res.raw["runs"]:
        assert r["total_ms"] > r["compile_ms"] > 0, r  # the first output comes after the compile
    assert all(math.isfinite(r["total_ms"]) for r in res.raw["plain"])
    assert res.figures[0].target and res.figures[0].met is not None


def test_the_program_is_fifty_lines() -> None:
    assert cstart.PROGRAM.count("\n") == 50
