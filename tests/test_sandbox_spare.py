"""Warm spares: a run started by a spare is the same run a cold start makes, only sooner.

Two real servers, one keeping spares (the default) and one with PROCLAB_WARM_SPARES=0, run the
same probe of the scenario's own process; everything a student's program could observe about
itself must be equal, except pids and paths named after the run.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import Server, of, output, start_server, stop_server

from app.runspec import build_spec
from app.sandbox.client import Launcher
from app.settings import Settings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="spares need the uid pool (root)")

# What the scenario's first process can see of itself, as one JSON line.
PROBE = r'''
import json, os, resource, stat
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
fds = {}
for fd in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue  # the directory listing's own fd, closed by now
    fds[fd] = target.split(":")[0] if ":" in target else ("run dir" if target.startswith(os.getcwd()) else target)
cg = {}
for line in open("/proc/self/cgroup"):
    _, ctrl, path = line.strip().split(":", 2)
    for name, f in (("pids", "pids.max"), ("memory", "memory.limit_in_bytes"), ("", "pids.max")):
        if ctrl == name and "proclab" in path:
            base = "/sys/fs/cgroup" + ("/" + name if name else "")
            try:
                cg[f] = open(f"{base}{path}/{f}").read().strip()
            except OSError:
                pass
vfs = os.statvfs("/tmp")
facts = {
    "uid": os.getresuid(), "gid": os.getresgid(), "groups": os.getgroups(), "pid": os.getpid(),
    "cmdline": open("/proc/self/cmdline", "rb").read().rstrip(b"\0").split(b"\0"),
    "comm": open("/proc/self/comm").read().strip(), "nice": os.getpriority(os.PRIO_PROCESS, 0),
    "oom_score_adj": open("/proc/self/oom_score_adj").read().strip(),
    "rlimits": {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")},
    "seccomp": status("Seccomp"), "no_new_privs": status("NoNewPrivs"), "cap_eff": status("CapEff"),
    "env": sorted(os.environ), "cwd_mode": oct(stat.S_IMODE(os.stat(".").st_mode)), "umask": os.umask(0o22),
    "fds": fds, "tmp_mib": vfs.f_blocks * vfs.f_frsize // 2**20, "cgroup": cg,
    "can_write_etc": os.access("/etc", os.W_OK), "hostname": os.uname().nodename,
}
print(json.dumps(facts, default=lambda b: b.decode()))
'''


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    warm = start_server(tmp_path_factory.mktemp("warm"), {"PROCLAB_MAX_CONCURRENT_RUNS": "2"})
    cold = start_server(tmp_path_factory.mktemp("cold"), {"PROCLAB_MAX_CONCURRENT_RUNS": "2",
                                                          "PROCLAB_WARM_SPARES": "0"})
    yield warm, cold
    stop_server(warm)
    stop_server(cold)


def _facts(server: Server, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    events = server.run(body)
    assert events[-1]["status"] == "ok", events[-1]
    started = of(events, "run.started")[0]
    return started, json.loads(output(events))


def _run_until_warm(server: Server, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A spare is made again ~50 ms after a run ends; give it a moment rather than race it."""
    for _ in range(20):
        started, facts = _facts(server, body)
        if started.get("warm"):
            return started, facts
        time.sleep(0.25)
    raise AssertionError("no run of this server was started by a warm spare")


@pytest.mark.parametrize("limits", [None, {"files_mb": 8, "memory_mb": 64, "processes": 10}])
def test_a_warm_start_is_the_same_run_as_a_cold_one(servers: tuple[Server, Server],
                                                    limits: dict[str, Any] | None) -> None:
    warm_server, cold_server = servers
    body: dict[str, Any] = {"files": {"probe.py": PROBE}, "main": "probe.py"}
    if limits:
        body["limits"] = limits
    w_started, warm = _run_until_warm(warm_server, body)
    c_started, cold = _facts(cold_server, body)
    assert w_started["warm"] is True and c_started["warm"] is False
    assert w_started["layers"] == c_started["layers"]
    # uids differ between two servers (each claims its own); everything else must match
    for facts, started in ((warm, w_started), (cold, c_started)):
        assert facts["uid"] == [started["uid"]] * 3 and facts["gid"] == [started["uid"]] * 3
        facts.pop("uid")
        facts.pop("gid")
    assert warm == cold
    # and the run's own limits, not the spare's defaults, are what the kernel enforces
    assert warm["cmdline"] == ["python3", "probe.py"]
    assert "landlock" not in json.dumps(warm["fds"])  # the spare's prepared ruleset is not inherited
    if limits:
        assert warm["tmp_mib"] == 8
        if warm["cgroup"]:
            assert warm["cgroup"].get("pids.max") == "10"
            if "memory.limit_in_bytes" in warm["cgroup"]:
                assert warm["cgroup"]["memory.limit_in_bytes"] == str(64 * 2**20)


def test_spares_go_to_the_uids_the_next_runs_get(tmp_path: Path) -> None:
    """More run uids than spares: the server hands out free uids first in, first out, and the
    launcher must keep its few spares on exactly those, run after run."""
    server = start_server(tmp_path, {"PROCLAB_MAX_CONCURRENT_RUNS": "5", "PROCLAB_WARM_SPARES": "2",
                                     "PROCLAB_UID_BASE": "64100"})
    try:
        time.sleep(1.0)  # the spares are made after start-up
        warm, uids = 0, []
        for i in range(8):
            events = server.run({"files": {"main.py": f"print({i})"}})
            assert output(events) == f"{i}\n"
            started = of(events, "run.started")[0]
            warm += bool(started.get("warm"))
            uids.append(started["uid"])
            time.sleep(0.3)
    finally:
        stop_server(server)
    assert len(set(uids)) == 5  # every uid of the pool took its turn
    assert warm == 8, f"only {warm} of 8 runs started warm (uids {uids})"


def _launcher_children(server: Server) -> list[psutil.Process]:
    launcher = server.http.get("/healthz").json()["launcher"]["pid"]
    return psutil.Process(launcher).children(recursive=True)


def test_stopping_the_server_retires_its_spares(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"PROCLAB_MAX_CONCURRENT_RUNS": "2", "PROCLAB_UID_BASE": "64200"})
    try:
        deadline = time.monotonic() + 10
        while len(_launcher_children(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        spares = _launcher_children(server)
        assert spares, "the server keeps no spare processes"
        cgroups = [d for uid in (64200, 64201) for d in glob.glob(f"/sys/fs/cgroup/**/proclab/uid-{uid}",
                                                                  recursive=True)]
    finally:
        stop_server(server)
    gone, alive = psutil.wait_procs(spares, timeout=5)
    assert not alive, f"spare processes outlived the server: {alive}"
    assert not [d for d in cgroups if os.path.exists(d)], "spare cgroups were left behind"


def test_run_requests_sent_together_get_their_own_replies(tmp_path: Path) -> None:
    """The web process pipelines run requests to the launcher; each must get its own run."""
    settings = Settings(runtime_dir=str(tmp_path / "rt"), uid_base=64300, max_concurrent_runs=3)
    launcher = Launcher.create(settings.runtime_dir, settings.uid_base, 3)
    launcher.start()

    async def three_runs() -> list[str]:
        starting = []
        for i, uid in enumerate(launcher.uid_pool):
            spec = build_spec(settings, launcher, {"main.py": f"print('run {i}')"}, "main.py", None, None, uid=uid)
            starting.append(launcher.start_run(spec))
        outs = []
        for s in starting:
            sock, reply = await launcher.finish_run(s)
            assert reply["ok"]
            reader, writer = await asyncio.open_unix_connection(sock=sock)
            text = ""
            while line := await reader.readline():
                ev = json.loads(line)
                text += ev.get("text", "") if ev["type"] == "io.output" else ""
                if ev["type"] == "run.finished":
                    break
            writer.close()
            outs.append(text)
        return outs

    try:
        assert asyncio.run(three_runs()) == ["run 0\n", "run 1\n", "run 2\n"]
    finally:
        launcher.stop()


def _until_warm(server: Server, body: dict[str, Any]) -> list[dict[str, Any]]:
    for _ in range(20):
        events = server.run(body)
        if of(events, "run.started") and of(events, "run.started")[0].get("warm"):
            return events
        if of(events, "run.compile") and not of(events, "run.started"):
            return events  # a failed compile starts no root: its run.finished says which spare it used
        time.sleep(0.25)
    raise AssertionError("no run of this server was started by a warm spare")


def test_a_warm_spares_compiler_is_as_confined_as_a_cold_one(servers: tuple[Server, Server]) -> None:
    """A spare forks the compiler's process ahead of time (already in the run's cgroup); gcc must still
    run with every layer of the run: a `#include` of a secret fails the same way, warm or cold."""
    warm_server, cold_server = servers
    body = {"files": {"main.c": '#include "/etc/shadow"\nint main(void) { return 0; }\n'}}
    seen = []
    for server in (warm_server, cold_server):
        time.sleep(0.5)  # the warm server's spare (and its compiler) is ready again
        events = server.run(body)
        comp = of(events, "run.compile")[0]
        assert comp["ok"] is False and "root:" not in comp["output"], comp
        assert events[-1]["outcome"]["code"] == "compile_failed"
        seen.append([(d["severity"], d["message"]) for d in comp["diagnostics"]])
    assert seen[0] == seen[1] and seen[0], seen
    ok = {"files": {"main.c": '#include <stdio.h>\nint main(void) { printf("hi\\n"); return 0; }\n'}}
    events = _until_warm(warm_server, ok)
    assert of(events, "run.compile")[0]["ok"] and output(events) == "hi\n"


def test_a_warm_python_run_never_shows_the_spares_compiler(servers: tuple[Server, Server]) -> None:
    """The spare's compiler process goes when the run is Python: no event names it, nothing is left."""
    warm_server, _ = servers
    events = _until_warm(warm_server, {"files": {"main.py": "import os\nprint(os.getpid())\n"}})
    spawned = {e["pid"] for e in of(events, "proc.spawn")}
    assert spawned == {of(events, "run.started")[0]["root_pid"]}, of(events, "proc.spawn")
    assert events[-1]["status"] == "ok" and not of(events, "run.error")


C_FORK = r"""#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) { printf("root %d\n", getpid()); if (fork() == 0) { printf("child %d\n", getpid()); return 0; }
                 wait(NULL); return 0; }
"""


@pytest.mark.parametrize("which", ["warm", "cold"])
@pytest.mark.parametrize("lang", ["python", "c"])
def test_the_programs_first_child_is_pid_3_as_in_a_plain_pid_namespace(servers: tuple[Server, Server],
                                                                       which: str, lang: str) -> None:
    """Neither the spare's compiler process nor gcc's processes leave a gap in the pids a run sees."""
    server = servers[0] if which == "warm" else servers[1]
    body = ({"files": {"main.py": "import os\nprint('root', os.getpid())\nif os.fork() == 0:\n"
                                  "    print('child', os.getpid())\nelse:\n    os.wait()\n"}}
            if lang == "python" else {"files": {"main.c": C_FORK}})
    events = _until_warm(server, body) if which == "warm" else server.run(body)
    started = of(events, "run.started")[0]
    if not started["pid_ns"]:
        pytest.skip("no pid namespace here")
    assert started["warm"] is (which == "warm")
    assert sorted(output(events).splitlines()) == ["child 3", "root 2"], output(events)


def test_a_warm_runs_orphan_is_reaped_by_init_even_on_the_compilers_old_pid(servers: tuple[Server, Server]) -> None:
    """The spare's compiler process had pid 3 before it was given back: the program's child that gets pid 3
    and is orphaned must still be adopted and reaped by init, not taken for the sandbox's helper."""
    src = "import os, time\nif os.fork() == 0:\n    os._exit(3)\ntime.sleep(0.5)\n"
    events = _until_warm(servers[0], {"files": {"main.py": src}})
    kid = of(events, "proc.spawn")[1]["pid"]
    assert [(e["old_ppid"], e["new_ppid"]) for e in of(events, "proc.reparent") if e["pid"] == kid] == \
        [(of(events, "run.started")[0]["root_pid"], of(events, "run.started")[0]["init_pid"])]
    reaped = [e for e in of(events, "proc.reaped") if e["pid"] == kid]
    assert [(e["by"], e["call"], e["status"]) for e in reaped] == [(of(events, "run.started")[0]["init_pid"], "init",
                                                                     3 << 8)], reaped
