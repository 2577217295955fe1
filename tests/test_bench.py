"""The benchmark harness (bench/) works: tiny sizes against real servers. No timing is asserted."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import classroom, delay, report, start  # noqa: E402
from bench.common import Result, Server, Unavailable  # noqa: E402
from bench.sizes import Sizes  # noqa: E402


def numbers(res: Result) -> list[float]:
    out = []
    for f in res.figures:
        if isinstance(f.value, int | float):
            out.append(float(f.value))
        else:
            out += [float(x) for x in str(f.value).replace("%", " ").replace("/", " ").replace("(", " ").split()
                    if x.replace(".", "", 1).lstrip("-").isdigit()]
    return out


@pytest.mark.timeout(600)
def test_bench_tiny(tmp_path: Path) -> None:
    sizes = Sizes.tiny()
    try:
        results = [start.run(sizes), delay.run(sizes), classroom.run(sizes)]
    except Unavailable as e:
        pytest.skip(f"the sandbox is not available here: {e}")
    for res in results:
        assert res.error is None, res.error
        vals = numbers(res)
        assert vals, f"{res.name} produced no numbers"
        assert all(math.isfinite(v) for v in vals), (res.name, vals)

    st = results[0].raw
    assert len(st["runs"]) == sizes.starts
    assert all(r["total_ms"] > 0 for r in st["runs"])

    dl = results[1].raw
    assert dl["transitions"] == 3 * sizes.delay_cycles - 1
    assert dl["state_ms"], "no state transition was matched"

    many = results[2].raw["many"]
    assert many["clients"] == sizes.clients
    assert many["lost"] == 0 and many["duplicates"] == 0 and many["client_errors"] == 0
    assert many["deliveries"] > 0

    text = report.render(results, report.machine(), Server.last_health, ["--tiny"], 1.0)
    out = report.write(text, tmp_path / "benchmarks.md")
    body = out.read_text()
    assert "## Machine" in body and "## Targets" in body
    for res in results:
        assert f"`python -m bench {res.name}`" in body
