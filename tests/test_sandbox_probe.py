"""app.sandbox.probe: every layer tried for real; missing layers reported, never raised."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from conftest import in_child

from app.sandbox import cgroup, cleanup, probe, seccomp

POOL_UID = 64999
LAYERS = ("process_model", "identity", "rlimits", "supervision", "seccomp", "landlock", "namespaces", "cgroup")


def check_shape(result: dict[str, dict[str, Any]]) -> None:
    for name in LAYERS:
        entry = result[name]
        assert isinstance(entry["ok"], bool), name
        assert isinstance(entry["detail"], str) and entry["detail"], name


def no_probe_leftovers() -> None:
    layout = cgroup.detect()
    if layout is not None:
        runs = cgroup._existing_runs(layout, cgroup.DEFAULT_PARENT)
        assert not [n for n in runs if n.startswith("probe-")], runs
    if os.geteuid() == 0:
        assert cleanup.list_uid_pids(POOL_UID) == []


@pytest.mark.timeout(30)
def test_probe_all_here() -> None:
    t0 = time.perf_counter()
    result = probe.probe_all(POOL_UID)
    ms = (time.perf_counter() - t0) * 1000
    check_shape(result)
    print(f"probe_all: {ms:.1f} ms")
    for name in LAYERS:
        print(f"  {name:14} {'ok ' if result[name]['ok'] else 'NO '} {result[name]['detail']}")
    assert ms < 1000
    assert result["process_model"]["ok"] and result["rlimits"]["ok"] and result["supervision"]["ok"]
    if os.geteuid() == 0:
        assert result["identity"]["ok"]
    ok, missing = probe.floor_ok(result)
    assert ok, missing
    assert missing == []
    # each optional layer agrees with its module's own view
    assert result["seccomp"]["ok"] == seccomp.available()
    assert result["cgroup"]["ok"] == (cgroup.available() is not None)
    assert set(result["namespaces"]["kinds"]) >= {"pid", "net", "mount", "ipc", "uts"}
    no_probe_leftovers()


def test_floor_ok_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    good = {n: {"ok": True, "detail": "ok"} for n in LAYERS}
    assert probe.floor_ok(good) == (True, [])
    bad = dict(good, rlimits={"ok": False, "detail": "setrlimit denied"})
    assert probe.floor_ok(bad) == (False, ["rlimits: setrlimit denied"])
    assert probe.floor_ok({})[0] is False
    no_identity = dict(good, identity={"ok": False, "detail": "not root"})
    monkeypatch.setattr(probe.os, "geteuid", lambda: 0)
    assert probe.floor_ok(no_identity) == (False, ["identity: not root"])
    monkeypatch.setattr(probe.os, "geteuid", lambda: 1000)
    assert probe.floor_ok(no_identity) == (True, [])  # without root there is no uid per run to require
    # optional layers never block
    assert probe.floor_ok(dict(good, seccomp={"ok": False, "detail": "x"}, cgroup={"ok": False, "detail": "x"}))[0]


@pytest.mark.timeout(30)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become a normal user")
def test_probe_as_a_normal_user() -> None:
    """The laptop case: not root. Identity and cgroup are reported missing; the floor still holds."""

    def run() -> tuple[dict[str, Any], tuple[bool, list[str]]]:
        os.setgroups([])
        os.setresgid(POOL_UID, POOL_UID, POOL_UID)
        os.setresuid(POOL_UID, POOL_UID, POOL_UID)
        os.chdir("/")
        result = probe.probe_all(61234)
        return result, probe.floor_ok(result)

    result, (ok, missing) = in_child(run)
    check_shape(result)
    assert result["identity"]["ok"] is False and "not root" in result["identity"]["detail"]
    assert result["cgroup"]["ok"] is False and "no writable cgroup" in result["cgroup"]["detail"]
    assert result["namespaces"]["kinds"]["net"] is False  # without a user namespace, no CAP_SYS_ADMIN
    assert ok, missing
    assert cleanup.list_uid_pids(POOL_UID) == []


@pytest.mark.timeout(30)
@pytest.mark.skipif(not seccomp.available(), reason="needs seccomp to imitate a container profile")
def test_probe_under_a_container_like_seccomp_profile() -> None:
    """Docker's default profile denies unshare and mount: namespaces must be reported missing, not crash."""

    def run() -> dict[str, Any]:
        seccomp.install_filter()  # denies unshare/mount/clone-with-namespace-flags like Docker's profile
        return probe.probe_all(POOL_UID)

    result = in_child(run)
    check_shape(result)
    assert result["namespaces"]["ok"] is False
    assert "EPERM" in result["namespaces"]["detail"]
    assert not any(result["namespaces"]["kinds"].values())
    assert probe.floor_ok(result)[0]
    no_probe_leftovers()


def test_in_child_reports_exceptions_and_timeouts() -> None:
    def boom() -> str:
        raise OSError(1, "nope")

    assert probe._in_child(boom) == {"ok": False, "detail": "PermissionError: [Errno 1] nope"}

    def hang() -> str:
        time.sleep(30)
        return "never"

    t0 = time.monotonic()
    assert probe._in_child(hang, timeout=0.2) == {"ok": False, "detail": "probe timed out"}
    assert time.monotonic() - t0 < 2
