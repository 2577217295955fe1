"""C programs: which language a run is in, compiling its .c files with gcc inside the sandbox, and
starting the result as the scenario's root program.

The compile is a phase of its own, before the scenario's root is released: the supervisor forks a
process that takes every layer the root will have (its cgroup, rlimits, the run's uid, seccomp,
Landlock, inside the run's namespaces; `rootproc.prepare_root` + `rootproc.restrict`) and execs gcc
in the run directory. gcc's own processes (cc1, as, collect2, ld) are therefore never part of the
student's process tree: they have come and gone before the tree starts, and the phase is reported
as one `run.compile` event (diagnostics, duration). The compile counts toward the run's wall-clock,
CPU, memory and output limits; a limit that fires stops it with `run.limit` naming the limit.

Stdlib only, like the rest of app/sandbox.
"""

from __future__ import annotations

import enum
import json
import os
import re
import selectors
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import protocol, rootproc
from .protocol import Stdio

COMPILE_FAILED = "compile_failed"  # run.finished reason when the program did not compile
STOPPED = "stopped"  # what ended a compile that the user stopped (not a limit)
GCC_FLAGS = ("-g", "-O0", "-Wall", "-pthread", "-pipe", "-fdiagnostics-color=never")
MAX_DIAGNOSTICS = 200
MAX_OUTPUT_IN_EVENT = 16 * 1024
SOURCE_EXT = (".c",)
HEADER_EXT = (".h",)


class Language(enum.Enum):
    """A run's language, decided by its entry file."""

    PYTHON = "python"
    C = "c"

    @classmethod
    def of(cls, main: str) -> Language:
        return cls.C if main.endswith(".c") else cls.PYTHON


ENTRY_FILES = {Language.PYTHON: "main.py", Language.C: "main.c"}


def default_main(files: dict[str, str] | list[str]) -> str:
    """The entry file when none is named: main.py, else main.c, else main.py (which then is missing)."""
    names = set(files)
    for lang in (Language.PYTHON, Language.C):
        if ENTRY_FILES[lang] in names:
            return ENTRY_FILES[lang]
    return ENTRY_FILES[Language.PYTHON]


def binary_name(main: str) -> str:
    """What gcc writes and the run executes: `main.c` -> `main` (run as `./main`)."""
    return main[:-2] if main.endswith(".c") else main


def root_name(main: str) -> str:
    """The root's name in the tree (its kernel comm, 15 characters at most) before it reports itself."""
    return binary_name(main)[:15] if Language.of(main) is Language.C else "python3"


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


_SEVERITY = {"error": Severity.ERROR, "fatal error": Severity.ERROR, "warning": Severity.WARNING,
             "note": Severity.NOTE}
# gcc's classic form: `main.c:12:5: error: expected ';' before 'return'` (the column may be absent).
_DIAG_RE = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? "
                      r"(?P<sev>fatal error|error|warning|note): (?P<msg>.*)$")
# The linker: `/usr/bin/ld: main.c:(.text+0x1e): undefined reference to `foo'` or `/usr/bin/ld: cannot find -lx`.
_LD_RE = re.compile(r"^(?:\S*/)?ld(?:\.\w+)?: (?:(?P<file>[^:\s]+\.[ch]):\([^)]*\): )?(?P<msg>.*)$")

# ld's second line for a missing symbol: `main.c:(.text+0x5): undefined reference to `missing'`, or with
# debugging information `/path/of/run/main.c:2: undefined reference to `missing'`.
_OBJ_RE = re.compile(r"^(?P<file>[^:\s]+\.[ch]):(?:\([^)]*\)|(?P<line>\d+)): (?P<msg>.*)$")


@dataclass
class Diagnostic:
    file: str
    line: int | None
    col: int | None
    severity: str
    message: str


def parse_diagnostics(text: str, run_dir: str = "") -> list[Diagnostic]:
    """gcc's and ld's messages, in order; file names relative to the run directory where they are in it."""
    out: list[Diagnostic] = []
    prefix = run_dir.rstrip("/") + "/" if run_dir else None
    for raw in text.splitlines():
        m = _DIAG_RE.match(raw)
        if m:
            f = m["file"]
            if prefix and f.startswith(prefix):
                f = f[len(prefix):]
            out.append(Diagnostic(f, int(m["line"]), int(m["col"]) if m["col"] else None,
                                  _SEVERITY[m["sev"]].value, m["msg"]))
        elif (obj := _OBJ_RE.match(raw)) is not None:
            f = obj["file"]
            if prefix and f.startswith(prefix):
                f = f[len(prefix):]
            out.append(Diagnostic(f, int(obj["line"]) if obj["line"] else None, None, Severity.ERROR.value,
                                  obj["msg"]))
        else:
            ld = _LD_RE.match(raw)
            if ld and not ld["msg"].startswith("in function") and not ld["msg"].endswith(":"):
                out.append(Diagnostic(ld["file"] or "", None, None, Severity.ERROR.value, ld["msg"]))
        if len(out) >= MAX_DIAGNOSTICS:
            break
    return out


def gcc_command(files: list[str], main: str, gcc: str = "gcc") -> list[str]:
    """All the run's .c files make one program, as `gcc -o main *.c` would."""
    sources = sorted(f for f in files if f.endswith(SOURCE_EXT))
    return [gcc, *GCC_FLAGS, "-o", binary_name(main), *sources]


def find_gcc() -> str | None:
    return shutil.which("gcc", path="/usr/local/bin:/usr/bin:/bin")


@dataclass
class Outcome:
    ok: bool
    diagnostics: list[Diagnostic]
    output: str
    duration_ms: int
    command: list[str]
    limit: str | None = None  # the limit that stopped the compile
    limit_detail: str = ""
    stopped: bool = False  # by the user (or the server went away) while gcc ran

    def event(self) -> dict[str, Any]:
        errors = sum(1 for d in self.diagnostics if d.severity == Severity.ERROR.value)
        warnings = sum(1 for d in self.diagnostics if d.severity == Severity.WARNING.value)
        return protocol.run_compile(self.ok, Language.C.value, self.command, self.duration_ms, errors, warnings,
                                    [asdict(d) for d in self.diagnostics], self.output[:MAX_OUTPUT_IN_EVENT])


class _Compile:
    """One gcc run in a sandboxed child of the supervisor; watched for the run's limits."""

    def __init__(self, sup: Any) -> None:
        self.sup = sup
        self.lim = sup.limits
        self.cap = self.lim.output_kb * 1024

    def start(self, cmd: list[str]) -> tuple[int, int]:
        setup = self.sup.root_setup()
        ready = take_compiler(self.sup)
        if ready is not None:  # a warm spare's compiler process: already in the cgroup, no migration wait
            payload = json.dumps({"setup": asdict(setup), "cmd": cmd}).encode()
            while payload:  # it is blocked reading the pipe: this cannot deadlock
                payload = payload[os.write(ready.go_w, payload):]
            os.close(ready.go_w)
            return ready.pid, ready.out_r
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)

        def compiler() -> None:
            _enter_sandbox(self.sup.cg, setup, null, out_w)
            _exec_gcc(cmd)

        pid = rootproc.fork_child(compiler, "the compiler")
        os.close(out_w)
        os.close(null)
        return pid, out_r

    def watch(self, pid: int, out_r: int) -> tuple[int | None, bytes, str | None, str]:
        """Until gcc ends or a limit fires: (wait status, output, limit, detail)."""
        buf = bytearray()
        sel = selectors.DefaultSelector()
        os.set_blocking(out_r, False)
        sel.register(out_r, selectors.EVENT_READ, "out")
        sel.register(self.sup.sock, selectors.EVENT_READ, "cmd")
        status: int | None = None
        limit: str | None = None
        detail = ""
        eof = False
        while status is None or not eof:
            ready = {key.data for key, _ in sel.select(0.02)}
            if "cmd" in ready and self.commands():
                limit, detail = STOPPED, ""
                break
            if not eof:
                try:
                    while True:
                        chunk = os.read(out_r, 65536)
                        if not chunk:
                            eof = True
                            sel.unregister(out_r)
                            break
                        buf += chunk
                        if len(buf) > self.cap:
                            break
                except BlockingIOError:
                    pass
            if status is None:
                got, st = os.waitpid(pid, os.WNOHANG)
                if got == pid:
                    status = st
                elif eof:
                    time.sleep(0.002)
            limit, detail = self.over_limit(len(buf))
            if limit:
                break
        sel.close()
        os.close(out_r)
        _kill_group(pid)
        if status is None:
            status = _reap(pid)
        if self.sup.cg is not None and self.sup.cg.oom_killed() and not limit:
            limit, detail = "memory", "the kernel's out-of-memory killer stopped the compiler"
        return status, bytes(buf[: self.cap]), limit, detail

    def commands(self) -> bool:
        """Commands from the web side while gcc runs; True when one stopped the run. The supervisor
        takes commands only while the run is running, so the compile counts as running meanwhile."""
        sup = self.sup
        before, running = sup.phase, type(sup.phase).RUNNING
        sup.phase = running
        sup.read_cmd()
        if sup.phase is running:
            sup.phase = before
            return False
        return True

    def over_limit(self, out_bytes: int) -> tuple[str | None, str]:
        if out_bytes > self.cap:
            return "output", f"the compiler printed more than {self.lim.output_kb} KiB"
        if self.sup.elapsed() > self.lim.wall_s:
            return "wall", f"{self.lim.wall_s:g} s of wall-clock time while compiling"
        if self.sup.cg is not None and self.sup.cg.cpu_ns() / 1e9 > self.lim.cpu_s:
            return "cpu", f"{self.lim.cpu_s:g} s of CPU time while compiling"
        return None, ""


def _exec_gcc(cmd: list[str]) -> None:
    # gcc is not the student's program: no shim reports its processes (the supervisor is not
    # listening to the shims while it compiles, and cc1/as/ld are not part of the lesson).
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PROCLAB_SHIM")}
    env["LC_ALL"] = env["LANG"] = "C"  # gcc's messages in the form the parser reads
    os.execve(cmd[0], cmd, env)


@dataclass
class PreparedCompiler:
    """A warm spare's compiler process: forked and moved into the run's cgroup ahead of time (the move
    waits ~10 ms for an RCU grace period when no other move happened just before), its seccomp program
    and Landlock ruleset built, waiting on `go_w` for the RootSetup and gcc's command line."""

    pid: int
    go_w: int
    out_r: int  # gcc's stdout and stderr


def fork_compiler(cg: Any, layers: list[str], ro_paths: list[str]) -> PreparedCompiler:
    """In a warm spare, after its placeholder root: a process that becomes gcc for a C run."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)

    def become_gcc() -> None:
        rootproc.prepare_root(cg, null, out_w, out_w, keep=(go_r,))
        rootproc.prebuild(layers, ro_paths)
        chunks: list[bytes] = []
        while data := os.read(go_r, 1 << 16):
            chunks.append(data)
        if not chunks:
            os._exit(0)  # a Python run, or the spare was retired
        msg = json.loads(b"".join(chunks))
        rootproc.restrict(rootproc.RootSetup(**msg["setup"]))
        _exec_gcc([str(a) for a in msg["cmd"]])

    pid = rootproc.fork_child(become_gcc, "the compiler")
    for fd in (out_w, go_r, null):
        os.close(fd)
    return PreparedCompiler(pid, go_w, out_r)


def take_compiler(sup: Any) -> PreparedCompiler | None:
    """The warm spare's compiler process, for this run's compile (at most once)."""
    warm = sup.warm
    ready: PreparedCompiler | None = getattr(warm, "compiler", None)
    if ready is None:
        return None
    warm.compiler = None
    sup.lines.helper_pids.discard(ready.pid)  # reaped by the compile itself; its pid may be reused later
    try:
        alive = os.waitpid(ready.pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        alive = False
    if not alive:
        drop_compiler(ready)
        return None
    return ready


def drop_compiler(ready: PreparedCompiler | None, helpers: set[int] | None = None) -> None:
    """Let the compiler process go (an empty pipe: it exits). With `helpers` (the supervisor's set of
    pids that are never run processes) it is left for the supervisor's loop to reap, without a wait
    here; without, it is waited for and its pid leaves `helpers` of nobody (it may be reused)."""
    if ready is None:
        return
    for fd in (ready.go_w, ready.out_r):
        try:
            os.close(fd)
        except OSError:
            pass
    if helpers is not None:
        helpers.add(ready.pid)
        return
    try:
        os.waitpid(ready.pid, 0)
    except ChildProcessError:
        pass


def _enter_sandbox(cg: Any, setup: rootproc.RootSetup, null: int, out_w: int) -> None:
    """In the compiler's process: every layer of the root. The move into the cgroup waits for an RCU
    grace period (~8 ms), so a thread makes it while this one builds the seccomp and Landlock programs;
    both are done before gcc can fork anything."""
    rootproc.prepare_root(None, null, out_w, out_w)
    failed: list[BaseException] = []

    def join_cgroup() -> None:
        try:
            cg.add(os.getpid())
        except BaseException as e:
            failed.append(e)

    mover = threading.Thread(target=join_cgroup) if cg is not None else None
    if mover is not None:
        mover.start()
    rootproc.prebuild(setup.layers, setup.ro_paths)
    if mover is not None:
        mover.join()
    if failed:
        raise failed[0]
    rootproc.restrict(setup)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _reap(pid: int) -> int | None:
    """Wait for gcc, then for whatever of its group the subreaper inherited (cc1 left by a killed gcc)."""
    status: int | None = None
    try:
        status = os.waitpid(pid, 0)[1]
    except ChildProcessError:
        pass
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            got, _ = os.waitpid(-pid, os.WNOHANG)
        except ChildProcessError:
            break
        if got == 0:
            time.sleep(0.005)
    return status


def compile_run(sup: Any) -> Outcome:
    """Compile the run's C files in the sandbox; the supervisor's limits apply."""
    t0 = time.monotonic()
    gcc = find_gcc()
    files = list(sup.spec.files)
    main = sup.spec.main
    cmd = gcc_command(files, main, gcc or "gcc")
    shown = ["gcc", *cmd[1:]]
    if gcc is None:
        return Outcome(False, [Diagnostic("", None, None, Severity.ERROR.value,
                                          "gcc is not installed on this server")], "", 0, shown)
    job = _Compile(sup)
    pid, out_r = job.start(cmd)
    status, out, limit, detail = job.watch(pid, out_r)
    stopped = limit == STOPPED
    if stopped:
        limit = None
    text = out.decode("utf-8", "replace")
    diags = parse_diagnostics(text, sup.run_dir)
    ok = limit is None and not stopped and status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 \
        and os.path.isfile(os.path.join(sup.run_dir, binary_name(main)))
    if not ok and not limit and not stopped and not any(d.severity == Severity.ERROR.value for d in diags):
        # gcc failed without a parsable message (killed, or a driver error): keep what it said.
        first = next((ln for ln in text.splitlines() if ln.strip()), "the compiler failed")
        diags.append(Diagnostic("", None, None, Severity.ERROR.value, first[:500]))
    return Outcome(ok, diags, text, int((time.monotonic() - t0) * 1000), shown, limit, detail, stopped)


def kill_unused_compiler(sup: Any) -> None:
    """As soon as the spec is read: a warm spare's compiler process is not needed by a Python run."""
    ready = getattr(sup.warm, "compiler", None)
    if ready is not None and Language.of(sup.spec.main) is not Language.C:
        try:
            os.kill(ready.pid, signal.SIGKILL)
        except OSError:
            pass


def _rewind_pids(sup: Any) -> None:
    """The sandbox's processes that came before the program (a compiler, gcc's cc1, as, ld) are gone: the
    program's first child gets the pid right after the root's, as in a plain pid namespace."""
    if sup.pid_ns:
        from . import namespaces

        namespaces.set_last_pid(sup.warm.pid if sup.warm is not None else 1)


def phase(sup: Any) -> bool:
    """The supervisor's compile step for a C run; True when the root may start (or the run is not C).

    On failure the run is finished here: status `error` with reason `compile_failed`, or status
    `limit` with the limit named (run.limit), and the warm placeholder (if any) is retired.
    """
    if Language.of(sup.spec.main) is not Language.C:
        if sup.warm is not None and sup.warm.compiler is not None:
            # In a pid namespace it is waited for, so its pid can be given back (_rewind_pids); it was
            # killed as soon as the spec said Python (kill_unused_compiler), so this wait is short.
            ready, sup.warm.compiler = sup.warm.compiler, None
            if sup.pid_ns:
                drop_compiler(ready)
                sup.lines.helper_pids.discard(ready.pid)  # pid 3 is the program's first child's next
            else:
                drop_compiler(ready, sup.lines.helper_pids)
        _rewind_pids(sup)
        return True
    started = time.monotonic_ns()
    outcome = compile_run(sup)
    sup.emit(outcome.event(), t=started)  # at the phase's start; duration_ms says how long it took
    if outcome.ok:
        sup.lines.prestart(os.path.join(os.path.realpath(sup.run_dir), binary_name(sup.spec.main)))
        _rewind_pids(sup)
        return True
    if outcome.stopped:
        pass  # the supervisor's stop already set the status and reason
    elif outcome.limit:
        sup.limit_fired = outcome.limit
        sup.emit(protocol.run_limit(outcome.limit, outcome.limit_detail, sup.limits.params(outcome.limit)))
        sup.status, sup.reason = "limit", outcome.limit_detail
    else:
        sup.status, sup.reason = "error", COMPILE_FAILED
        sup.finish_outcome = {"code": "compile_failed", "errors": outcome.event()["errors"]}
    warm = sup.warm
    if warm is not None:
        warm.close_fds()  # an empty go pipe: the placeholder exits without running anything
        try:
            os.waitpid(warm.pid, 0)
        except ChildProcessError:
            pass
        sup.warm = None
    sup.flush()
    return False


def exec_program(run_dir: str, main: str) -> None:
    """In the root, after every layer is in place: become the compiled program. Never returns."""
    binary = binary_name(main)
    env = dict(os.environ)
    if "LD_PRELOAD" not in env and env.get("PROCLAB_STDIO") != Stdio.PIPE.value:
        # As on a terminal, stdout is line-buffered (a printf before fork() prints once). The native
        # shim does this when it is loaded; without it coreutils' stdbuf library does the same.
        for lib in ("/usr/libexec/coreutils/libstdbuf.so", "/usr/lib/coreutils/libstdbuf.so"):
            if os.path.exists(lib):
                env.update(LD_PRELOAD=lib, _STDBUF_O="L")
                break
    try:
        os.execve(os.path.join(run_dir, binary), [f"./{binary}"], env)
    except OSError as e:
        os.write(2, f"proclab: could not start ./{binary}: {e}\n".encode())
    os._exit(127)


def held_until_exe(run_dir: str, main: str) -> str | None:
    """For a C run, the program whose exec ends the root's set-up (the tracker starts sampling it then)."""
    if Language.of(main) is not Language.C:
        return None
    return os.path.join(os.path.realpath(run_dir), binary_name(main))
