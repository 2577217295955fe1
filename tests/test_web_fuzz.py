"""Issue 15: an API fuzz test from the OpenAPI schema (schemathesis), a bounded budget: no endpoint
answers 500, whatever it is sent. Against a real server with a copy of the lessons (saves are fuzzed too)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import ROOT, Server, start_server, stop_server
from hypothesis import HealthCheck, given, settings


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "lessons", tmp / "lessons")
    s = start_server(tmp, {"PROCLAB_LESSONS_DIR": str(tmp / "lessons"), "PROCLAB_MAX_RUNS_PER_CLIENT": "50",
                           "PROCLAB_MAX_RUNS_PER_IP": "50", "PROCLAB_MAX_WALL_S": "2"})
    yield s
    stop_server(s)


def test_no_endpoint_answers_500(fuzzed: Server) -> None:
    """Every operation of /openapi.json, a dozen generated requests each, as the instructor (the most
    code reached). schemathesis's pytest plugin does not work with pytest 9, so hypothesis drives it."""
    api = schemathesis.openapi.from_url(fuzzed.base + "/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    operations = [op.ok() for op in api.get_all_operations()]
    assert len(operations) >= 15, [o.path for o in operations]
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def one(case: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {fuzzed.secret}"}
            response = case.call(base_url=fuzzed.base, timeout=60)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.text[:200]}")

        one()
    assert not failures, "\n".join(failures[:20])
    assert len(calls) >= 5 * len(operations)  # the budget was spent
    assert any(c < 300 for c in calls) and any(400 <= c < 500 for c in calls)


def test_the_server_survived_the_fuzzing(fuzzed: Server) -> None:
    assert fuzzed.http.get("/healthz").json()["launcher"]["alive"] is True
    assert fuzzed.proc.poll() is None
    assert "Traceback" not in Path(fuzzed.log).read_text()
