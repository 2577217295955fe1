"""Containment with only what a default `docker run` gives: no namespaces, no writable cgroup, and the
capabilities Docker keeps (no CAP_SYS_ADMIN, no CAP_SYS_PTRACE …), dropped here with capsh."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HOSTILE, Server, of, output, start_server, stop_server, survivors

# Everything outside Docker's default capability set.
DROP = ("cap_sys_admin,cap_sys_ptrace,cap_sys_module,cap_sys_rawio,cap_sys_pacct,cap_sys_nice,cap_sys_resource,"
        "cap_sys_time,cap_sys_tty_config,cap_audit_control,cap_mac_admin,cap_mac_override,cap_net_admin,"
        "cap_syslog,cap_dac_read_search,cap_linux_immutable,cap_ipc_lock,cap_ipc_owner,cap_sys_boot,cap_lease,"
        "cap_wake_alarm,cap_block_suspend,cap_bpf,cap_perfmon,cap_checkpoint_restore")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as in the container"),
    pytest.mark.skipif(shutil.which("capsh") is None, reason="capsh (libcap2-bin) is not installed"),
]


@pytest.fixture(scope="module")
def docker_like(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("degraded"), {"PROCLAB_DISABLE_LAYERS": "namespaces,cgroup"},
                     prefix=["capsh", f"--drop={DROP}", "--", "-c", 'exec "$0" "$@"'])
    yield s
    stop_server(s)


def test_healthz_says_what_is_missing(docker_like: Server) -> None:
    h = docker_like.http.get("/healthz").json()
    assert h["ok"] is True
    assert "namespaces" not in h["active"] and "cgroup" not in h["active"]
    assert {"process", "identity", "rlimits", "supervision"} <= set(h["active"])
    assert any("namespaces" in w for w in h["warnings"])
    # Every sentence true: runs read /proc/PID/fd with the run's fs uid, so pipes do show their ends.
    assert h["layers"]["supervision"]["fds"] is True, h["layers"]["supervision"]
    assert "without ends" not in h["layers"]["supervision"]["detail"]
    status = Path(f"/proc/{docker_like.proc.pid}/status").read_text()
    cap_eff = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff")), 16)
    assert not cap_eff & (1 << 21) and not cap_eff & (1 << 19), "CAP_SYS_ADMIN/CAP_SYS_PTRACE should be dropped"


@pytest.mark.skipif(not HOSTILE.is_dir(), reason="shared/hostile is not beside the repo")
@pytest.mark.parametrize("name, limit", [
    ("01_fork_bomb.py", "processes"), ("03_double_fork_daemon.py", "leftover"), ("10_kill_everyone.py", None),
    ("12_disk_fill.py", "files"), ("13_thread_bomb.py", "processes"), ("14_legit_everything.py", None),
])
def test_hostile_contained_without_privileged_layers(docker_like: Server, name: str, limit: str | None) -> None:
    events = docker_like.run({"files": {"main.py": (HOSTILE / name).read_text()}})
    fin = events[-1]
    if limit is None:
        assert fin["status"] == "ok", fin
    else:
        assert fin["status"] == "limit" and of(events, "run.limit")[0]["limit"] == limit, fin
    assert not survivors(of(events, "run.started")[0]["uid"])
    assert not os.path.exists("/tmp/proclab-big.bin")
    assert docker_like.proc.poll() is None
    if name == "14_legit_everything.py":
        assert "ALL OK" in output(events)


def test_blocked_reasons_still_read_without_ptrace_capability(docker_like: Server) -> None:
    src = ("import os, time\nr, w = os.pipe()\npid = os.fork()\nif pid == 0:\n    os.close(w)\n"
           "    os.read(r, 10)\n    os._exit(0)\nos.close(r)\ntime.sleep(0.3)\nos.write(w, b'hi')\nos.wait()\n")
    events = docker_like.run({"files": {"main.py": src}})
    reasons = [e["reason"] or "" for e in of(events, "proc.state")]
    assert any(r.startswith("reading pipe #1") for r in reasons), reasons
    assert of(events, "ipc.end")
