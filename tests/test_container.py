"""The image, built and run for real with a Docker engine, with the README's own docker commands.

Needs a running engine (`.ci/run` starts Debian's docker.io when none runs) and root; skipped otherwise.
When the base image cannot be pulled (no registry), a base is made from Debian packages with debootstrap
that trusts the host's CA certificates, so pip in the build reaches PyPI the way the host does. The engine
here has no bridge (`dockerd --iptables=false --bridge=none`), so builds and containers use the host's
network: `-p 8000:8000` becomes `--network=host` and a free port (`adapt`). Reuse: the debootstrap base is
kept as an image and the build uses Docker's layer cache; PROCLAB_CONTAINER_FRESH=1 starts from nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import HOSTILE, ROOT, free_port, of, output
from test_hostile import CASES

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a Docker engine, debootstrap)"),
    pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client (.ci/run installs docker.io)"),
]

DEFAULT_BASE = "python:3.11-slim"
DEBOOTSTRAP_BASE = "proclab-base:bookworm-debootstrap"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
FRESH = os.environ.get("PROCLAB_CONTAINER_FRESH") == "1"
ALL_LAYERS = {"process", "identity", "rlimits", "supervision", "seccomp", "landlock", "namespaces", "cgroup"}
# Containers get uids away from the host's own test servers': with the host's cgroup fs shared, two
# servers with the same uids would sweep each other's run cgroups (docs/deploy.md).
UID_BASE = 64000
TIMINGS: dict[str, float] = {}
LABEL = "org.proclab.tests=1"  # on the images these tests build, so that they prune only their own


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def engine_runs() -> bool:
    try:
        return docker("info", "--format", "{{.ServerVersion}}", timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# ------------------------------------------------------------------------------------- the README's commands


@dataclass
class Commands:
    build: list[str]
    plain: list[str]
    full: list[str]


def readme_commands() -> Commands:
    """The docker commands of the README's Docker section, in order: build, plain run, full isolation."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Docker\n(.*?)^## ", text, re.S | re.M)
    assert section, "README has no '## Docker' section"
    lines = [line.strip() for block in re.findall(r"```sh\n(.*?)```", section.group(1), re.S)
             for line in block.replace("\\\n", " ").splitlines()]
    cmds = [shlex.split(line, comments=True) for line in lines if line.startswith("docker ")]
    builds = [c for c in cmds if c[1] == "build"]
    runs = [c for c in cmds if c[1] == "run"]
    assert len(builds) == 1 and len(runs) == 2, cmds
    return Commands(builds[0], runs[0], runs[1])


def adapt(cmd: list[str], name: str, port: int) -> list[str]:
    """A README `docker run` as this engine can run it: host network instead of the published port (no
    bridge here), detached with a name, the port and uid base passed in; nothing else changed."""
    assert cmd[:2] == ["docker", "run"] and cmd[-1] == "proclab", cmd
    args = cmd[2:-1]
    i = args.index("-p")
    assert args[i + 1] == "8000:8000", args
    args[i:i + 2] = ["--network=host"]
    return [*cmd[:2], "-d", "--name", name, "-e", f"PROCLAB_PORT={port}", "-e", f"PROCLAB_UID_BASE={UID_BASE}",
            *args, cmd[-1]]


def test_readme_docker_commands() -> None:
    """What the tests below run is the README's; the full command has the flags that gave all eight layers."""
    c = readme_commands()
    assert c.build == ["docker", "build", "-t", "proclab", "."]
    assert c.plain == ["docker", "run", "--rm", "-p", "8000:8000", "proclab"]
    flags = " ".join(c.full[2:-1])
    for flag in ("--cap-add SYS_ADMIN", "--cap-add NET_ADMIN", "--security-opt seccomp=unconfined",
                 "--cgroupns=host", "-v /sys/fs/cgroup:/sys/fs/cgroup:rw"):
        assert flag in flags, (flag, c.full)


# ------------------------------------------------------------------------------------- base and image


def debootstrap_base() -> str:
    """A Debian base with python3 (3.11 on bookworm), venv and pip, trusting the host's CA certificates."""
    if not FRESH and docker("image", "inspect", DEBOOTSTRAP_BASE, check=False).returncode == 0:
        return DEBOOTSTRAP_BASE
    if shutil.which("debootstrap") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="proclab-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        r = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                            SUITE, str(root), MIRROR], capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        shutil.copyfile(HOST_CA, root / "etc/ssl/certs/ca-certificates.crt")
        for d in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / d).glob("*"):
                if p.is_file():
                    p.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "ENV LANG=C.UTF-8",
                   f"ENV PIP_CERT={HOST_CA} SSL_CERT_FILE={HOST_CA}",  # pip's own certifi knows no proxy's CA
                   'CMD ["python3"]']
        imp = subprocess.run(["docker", "import", *[a for c in changes for a in ("--change", c)], "-",
                              DEBOOTSTRAP_BASE], stdin=tar.stdout, capture_output=True, text=True, timeout=600)
        assert tar.stdout is not None
        tar.stdout.close()
        assert tar.wait() == 0 and imp.returncode == 0, imp.stderr
    TIMINGS["debootstrap base"] = time.monotonic() - t0
    return DEBOOTSTRAP_BASE


def base_image() -> str:
    """python:3.11-slim when present or pullable, else a base made here from Debian packages."""
    if docker("image", "inspect", DEFAULT_BASE, check=False).returncode == 0:
        return DEFAULT_BASE
    try:
        if docker("pull", DEFAULT_BASE, timeout=300, check=False).returncode == 0:
            return DEFAULT_BASE
    except subprocess.TimeoutExpired:
        pass
    return debootstrap_base()


@pytest.fixture(scope="module")
def image() -> str:
    if not engine_runs():
        pytest.skip("no Docker engine runs (.ci/run starts one)")
    base = base_image()
    cmd = readme_commands().build
    extra = ["--network=host"] + ([] if base == DEFAULT_BASE else ["--build-arg", f"BASE={base}"])
    extra += ["--no-cache"] if FRESH else []
    extra += ["--label", LABEL]
    extra += ["--build-arg", f"UID_BASE={UID_BASE}"]  # the image names the uids its server will claim
    t0 = time.monotonic()
    # The build stage gets a tag of its own so that its cache survives the prune below, which removes
    # what earlier builds of these tests left untagged (older images, older build stages).
    for target in (["--target", "build", "-t", "proclab-build"], []):
        argv = [*cmd[:2], *extra, *target, *cmd[2:]]
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    TIMINGS["image build"] = time.monotonic() - t0
    docker("image", "prune", "-f", "--filter", f"label={LABEL}")
    return "proclab"


# ------------------------------------------------------------------------------------- a running container


@dataclass
class Container:
    name: str
    base: str
    http: httpx.Client
    cgroups_before: set[str] = field(default_factory=set)

    def run(self, body: dict[str, object], timeout: float = 90) -> list[dict[str, object]]:
        r = self.http.post("/api/runs", json=body)
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + timeout
        while self.http.get(f"/api/runs/{run_id}").json()["status"] != "finished":
            assert time.monotonic() < deadline, f"run {run_id} did not finish in {timeout} s"
            time.sleep(0.1)
        events: list[dict[str, object]] = self.http.get(f"/api/runs/{run_id}/events").json()
        return events

    def inside(self, script: str) -> object:
        """What a Python script run inside the container prints (JSON)."""
        return json.loads(docker("exec", self.name, "python3", "-c", script).stdout)


LEFT_INSIDE = f"""
import json, os
pool = range({UID_BASE}, {UID_BASE + 1000})
procs = []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        st = os.stat('/proc/' + pid)
    except OSError:
        continue
    if st.st_uid in pool:
        procs.append(int(pid))
files = [os.path.join(d, n) for d in ('/tmp', '/var/tmp', '/dev/shm') for n in os.listdir(d)
         if os.lstat(os.path.join(d, n)).st_uid in pool]
ipc = []
for kind in ('shm', 'sem', 'msg'):
    lines = open('/proc/sysvipc/' + kind).read().splitlines()
    col = lines[0].split().index('uid')
    ipc += [line for line in lines[1:] if int(line.split()[col]) in pool]
print(json.dumps({{'procs': procs, 'files': files, 'ipc': ipc}}))
"""


def descendants(pid: int) -> set[tuple[int, int]]:
    """(pid, start time) of pid and every process below it, from /proc (the container's processes)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(p))
        starts[int(p)] = int(fields[19])
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p in starts:
            out.add((p, starts[p]))
        todo += children.get(p, [])
    return out


def alive(procs: set[tuple[int, int]]) -> list[int]:
    left = []
    for pid, start in procs:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[19]) == start:
            left.append(pid)
    return left


def run_cgroups() -> set[str]:
    """The host's run cgroups (uid-<uid>[-<run>]) of the containers' uids; other servers' are not ours."""
    return {str(p) for p in Path("/sys/fs/cgroup").glob("*/proclab/uid-*")
            if p.is_dir() and int(p.name.split("-")[1]) in range(UID_BASE, UID_BASE + 1000)}


def start(image: str, cmd: list[str], kind: str) -> Container:
    before = run_cgroups()
    name = f"proclab-test-{kind}-{os.getpid()}"
    port = free_port()
    docker("rm", "-f", "-v", name, check=False)
    docker(*adapt(cmd, name, port)[1:])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        state = docker("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
        if state not in ("created", "running") or time.monotonic() > deadline:
            logs = docker("logs", name, check=False)
            docker("rm", "-f", "-v", name, check=False)
            raise AssertionError(f"the container did not get ready ({state}): {logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        time.sleep(0.2)
    return Container(name, base, httpx.Client(base_url=base, timeout=30), before)


def stop_and_check_nothing_left(c: Container) -> None:
    """docker stop (the README's --rm removes it): no container, no process, no volume, no run cgroup left."""
    c.http.close()  # warnings are errors: no socket left open
    init = int(docker("inspect", "--format", "{{.State.Pid}}", c.name).stdout)
    procs = descendants(init)
    assert procs, "no processes seen in the container"
    volumes = {m["Name"] for m in json.loads(docker("inspect", "--format", "{{json .Mounts}}", c.name).stdout)
               if m.get("Type") == "volume"}
    docker("stop", "--time", "20", c.name, timeout=60)
    deadline = time.monotonic() + 20
    while docker("ps", "-aq", "--filter", f"name=^{c.name}$").stdout.strip() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not docker("ps", "-aq", "--filter", f"name=^{c.name}$").stdout.strip(), "the container was not removed"
    assert not alive(procs), f"processes of the container outlived it: {alive(procs)}"
    left_volumes = volumes & set(docker("volume", "ls", "-q").stdout.split())
    assert not left_volumes, f"volumes left: {left_volumes}"
    assert not run_cgroups() - c.cgroups_before, f"run cgroups left on the host: {run_cgroups() - c.cgroups_before}"
    assert not Path("/tmp/proclab-big.bin").exists() and not Path("/tmp/proclab-escaped-daemon").exists()


# ------------------------------------------------------------------------------------- plain docker run


@pytest.fixture(scope="module")
def plain(image: str) -> Iterator[Container]:
    t0 = time.monotonic()
    c = start(image, readme_commands().plain, "plain")
    TIMINGS["plain: start to ready"] = time.monotonic() - t0
    yield c
    docker("rm", "-f", "-v", c.name, check=False)


def test_plain_run_is_ready_and_every_healthz_sentence_holds(plain: Container) -> None:
    assert plain.http.get("/readyz").json() == {"ready": True, "reasons": []}
    h = plain.http.get("/healthz").json()
    assert {"process", "identity", "rlimits", "supervision"} <= set(h["active"]), h
    assert h["layers"]["supervision"]["fds"] is True, h["layers"]["supervision"]
    assert not any("without ends" in w for w in h["warnings"]), h["warnings"]
    # ... and the pipe ends it promises are really shown
    events = plain.run({"lesson": "pipe-basics"})
    assert events[-1]["status"] == "ok", events[-1]
    assert of(events, "ipc.end"), "no pipe ends in a lesson about pipes"
    page = plain.http.get("/lessons/pipe-basics")
    assert page.status_code == 200 and "pipe" in page.text.lower()
    assert plain.http.get("/static/js/i18n.js").status_code == 200
    health = json.loads(docker("inspect", "--format", "{{json .State.Health}}", plain.name).stdout)
    assert health is not None, "the image has no HEALTHCHECK"


def test_plain_run_has_gcc_for_c_lessons(plain: Container) -> None:
    src = ("import subprocess, pathlib\npathlib.Path('hi.c').write_text('#include <stdio.h>\\n"
           "int main(void) { puts(\"from C\"); return 0; }\\n')\n"
           "subprocess.run(['gcc', '-o', 'hi', 'hi.c'], check=True)\nsubprocess.run(['./hi'], check=True)\n")
    events = plain.run({"files": {"main.py": src}})
    assert "from C" in output(events), (events[-1], output(events)[-2000:])


def test_plain_run_has_a_named_user_and_shows_no_proclab_path(plain: Container) -> None:
    """Without namespaces the image's own passwd names the run uids; `ps aux` sees ProcLab's processes
    (no pid namespace) but only by short names: no boot code, no package path."""
    src = ("import os, pwd\nprint('user', pwd.getpwuid(os.getuid()).pw_name)\nopen('f.txt', 'w').close()\n"
           "os.system('ls -l f.txt; ps aux')\n")
    events = plain.run({"files": {"main.py": src}})
    out = output(events)
    assert "user student\n" in out, out
    lines = out.splitlines()
    assert " student student " in next(ln for ln in lines if ln.endswith("f.txt")), out
    main = next(ln for ln in lines if ln.endswith("python3 main.py"))
    assert main.split()[0] == "student", main
    assert "importlib" not in out and "site-packages" not in out and "/opt/proclab/lib" not in out, out
    assert any(ln.endswith("proclab-launcher") for ln in lines) and any(ln.endswith("proclab-run") for ln in lines), out


@pytest.mark.skipif(not HOSTILE.is_dir(), reason="shared/hostile is not beside the repo")
@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_run_contains_hostile_program(plain: Container, name: str) -> None:
    limit, text = CASES[name]
    events = plain.run({"files": {"main.py": (HOSTILE / name).read_text()}})
    fin = events[-1]
    assert fin["type"] == "run.finished"
    if limit is None:
        assert fin["status"] == "ok", fin
    else:
        fired = of(events, "run.limit")
        assert fin["status"] == "limit" and fired and fired[0]["limit"] in (
            (limit,) if isinstance(limit, str) else limit), (fin, fired)
    if text:
        assert text in output(events), output(events)[-500:]
    t0 = time.monotonic()
    assert plain.http.get("/healthz").status_code == 200
    assert time.monotonic() - t0 < 1.0, "liveness must stay quick after a hostile run (as in test_hostile)"
    r = plain.http.get("/readyz")
    assert r.status_code == 200, r.text
    left: dict[str, list[object]] = {"procs": [1]}
    deadline = time.monotonic() + 2
    while any(left.values()) and time.monotonic() < deadline:
        left = plain.inside(LEFT_INSIDE)  # type: ignore[assignment]
    assert not any(left.values()), left


def test_plain_run_leaves_nothing_on_the_host(plain: Container) -> None:
    stop_and_check_nothing_left(plain)


# ------------------------------------------------------------------------------------- full isolation


def test_full_isolation_command_gives_all_eight_layers(image: str) -> None:
    c = start(image, readme_commands().full, "full")
    try:
        h = c.http.get("/healthz").json()
        assert set(h["active"]) == ALL_LAYERS, (h["active"], h["warnings"])
        assert not h["warnings"], h["warnings"]
        events = c.run({"lesson": "orphan-process"})
        assert events[-1]["status"] == "ok", events[-1]
        started = of(events, "run.started")[0]
        assert set(started["layers"]) == ALL_LAYERS, started
        stop_and_check_nothing_left(c)
    finally:
        docker("rm", "-f", "-v", c.name, check=False)


def test_report_timings() -> None:
    """Not a check: how long the container tests took (shown with -rP; docs/deploy.md has the figures)."""
    for what, s in TIMINGS.items():
        print(f"{what}: {s:.0f} s")
