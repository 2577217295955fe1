"""Command line: serve, run, check, new, migrate."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .i18n import Lang, from_environment, translate
from .outcome import stream_run
from .runspec import build_spec
from .sandbox.client import Launcher, LauncherError
from .sandbox.compile import Language
from .settings import Settings, SettingsError, get_settings
from .version import version

MAX_SIBLINGS = 64
MAX_SIBLING_BYTES = 2 * 2**20


# Other .c files next to a C program are usually other programs (OSTEP's p1.c … p4.c): only headers come along.
SIBLING_EXT = {Language.PYTHON: (".py", ".txt"), Language.C: (".h", ".txt")}


def files_for_path(path: Path) -> tuple[dict[str, str], str]:
    """A .py or .c file on disk becomes a run: the file, plus small sibling scenario files it may use."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    files = {path.name: path.read_text(encoding="utf-8")}
    siblings = [p for p in sorted(path.parent.iterdir()) if p.is_file() and p.suffix in SIBLING_EXT[Language.of(path.name)]
                and p != path and not p.name.startswith(".")]
    if len(siblings) <= MAX_SIBLINGS and sum(p.stat().st_size for p in siblings) <= MAX_SIBLING_BYTES:
        for p in siblings:
            try:
                files[p.name] = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return files, path.name


def make_launcher(settings: Settings, concurrency: int = 1) -> Launcher:
    launcher = Launcher.create(settings.runtime_dir, settings.uid_base, concurrency,
                               settings.run_python, settings.disabled)
    launcher.start()
    return launcher


# Exit statuses of `python -m app run` (docs/architecture.md, "Command line"): the program's own
# status when it ran to its end, 128+N when a signal N ended it (as a shell reports it), and these
# when the run did not end by itself.
EXIT_LIMIT = 124  # a limit ended the run (as timeout(1) reports its time limit)
EXIT_STOPPED = 130  # stopped (Ctrl+C twice at the command line)
EXIT_PROCLAB = 125  # ProcLab could not run it (bad target, no sandbox, start failure)


def exit_status(finished: dict[str, Any], root_exit: dict[str, Any] | None) -> int:
    """What the shell sees when `python -m app run` ends (see EXIT_*)."""
    outcome = finished.get("outcome") or {}
    status = finished.get("status")
    if outcome.get("code") == "limit" or status == "limit":
        return EXIT_LIMIT
    if outcome.get("code") == "stopped" or status == "stopped":
        return EXIT_STOPPED
    if status == "error" and finished.get("code") is None and root_exit is None:
        return EXIT_PROCLAB
    if isinstance(finished.get("code"), int):
        return int(finished["code"])
    sig = outcome.get("signal") or (root_exit or {}).get("signal")
    if isinstance(sig, str) and sig.startswith("SIG"):
        try:
            return 128 + int(signal.Signals[sig])
        except KeyError:
            pass
    return EXIT_PROCLAB if status == "error" else 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = get_settings()
    target = args.target
    lesson_id = None
    limits = None
    stdin = None
    stdio = None
    questions: list[dict[str, Any]] = []
    p = Path(target)
    if target.endswith((".py", ".c")) or p.is_file():
        try:
            files, main = files_for_path(p)
        except (OSError, UnicodeDecodeError) as e:
            print(f"proclab: {e}", file=sys.stderr)
            return EXIT_PROCLAB
    else:
        from .lessons import LessonStore

        store = LessonStore(settings.lessons_dir)
        lesson = store.get(target)
        if lesson is None:
            print(f"proclab: no lesson {target!r}; known: {', '.join(sorted(store.lessons))}", file=sys.stderr)
            for err in store.errors:
                print(f"proclab: {err}", file=sys.stderr)
            return EXIT_PROCLAB
        files, main, lesson_id, limits, stdin = lesson.files, lesson.main, lesson.id, lesson.limits, lesson.stdin
        stdio = lesson.stdio
        questions = lesson.questions
    try:
        launcher = make_launcher(settings)
    except LauncherError as e:
        print(f"proclab: {e}", file=sys.stderr)
        return EXIT_PROCLAB
    root_exit: dict[str, Any] | None = None
    try:
        spec = build_spec(settings, launcher, files, main, lesson_id, limits, stdin, stdio=stdio)
        # A lesson's own stdin is given up front (and ends); otherwise the run reads ours.
        stdin_fd = None if stdin else _stdin_fd()
        if stdin_fd is not None:
            spec.stdin_eof = False
        last: dict[str, Any] = {}
        root_pid = None
        for ev in stream_run(launcher, spec, questions, stdin_fd):
            last = ev
            if ev["type"] == "run.started":
                root_pid = ev.get("root_pid")
            elif ev["type"] == "proc.exit" and ev.get("pid") == root_pid:
                root_exit = ev
            if args.json:
                print(json.dumps(ev, ensure_ascii=False), flush=True)
            else:
                _print_human(ev)
    except LauncherError as e:
        print(f"proclab: {e}", file=sys.stderr)
        return EXIT_PROCLAB
    finally:
        launcher.stop()
    if last.get("type") != "run.finished":
        print("proclab: the run ended without a run.finished event", file=sys.stderr)
        return EXIT_PROCLAB
    return exit_status(last, root_exit)


def _stdin_fd() -> int | None:
    try:
        os.fstat(0)
    except OSError:
        return None  # no stdin at all (closed): the run gets end-of-file at once
    return 0


def _print_human(ev: dict[str, Any]) -> None:
    t = ev["t"] / 1e6
    kind = ev["type"]
    if kind == "io.output":
        for line in ev["text"].splitlines():
            print(f"{t:9.1f} ms [{ev['pid']}] {line}", flush=True)
    elif kind == "proc.state":
        reason = f" ({ev['reason']})" if ev.get("reason") else ""
        print(f"{t:9.1f} ms   pid {ev['pid']}: {ev['prev']} -> {ev['state']} [{ev['stat']}]{reason}")
    elif kind in ("proc.spawn", "proc.reparent", "proc.exit", "proc.reaped", "run.limit", "run.started",
                  "signal.sent", "proc.exec", "proc.exec.failed", "run.error"):
        rest = {k: v for k, v in ev.items() if k not in ("v", "seq", "t", "type")}
        print(f"{t:9.1f} ms   {kind} {json.dumps(rest, ensure_ascii=False)}")
    elif kind == "run.compile":
        print(f"{t:9.1f} ms   compiled ({' '.join(ev['command'])}) in {ev['duration_ms']} ms: "
              f"{'ok' if ev['ok'] else 'failed'}, {ev['errors']} error(s), {ev['warnings']} warning(s)")
        for line in ev["output"].splitlines():
            print(f"{'':12} {line}")
    elif kind == "run.finished":
        print(f"{t:9.1f} ms   finished: {ev['status']} — {outcome_text(ev)}")


def outcome_text(finished: dict[str, Any]) -> str:
    """How a run ended, in the English catalogue's words (the terminal has no language switch)."""
    outcome = finished.get("outcome")
    if not isinstance(outcome, dict) or not isinstance(outcome.get("code"), str):
        return str(finished.get("reason") or finished.get("status"))
    params = {k: v for k, v in outcome.items() if k != "code"}
    if isinstance(params.get("limit"), str):
        params["name"] = translate(Lang.EN, f"limitName.{params['limit']}")
    return translate(Lang.EN, f"outcome.{outcome['code']}", **params)


def cmd_check(args: argparse.Namespace) -> int:
    from .checker import check_lessons

    return check_lessons(get_settings(), args.lessons, verbose=args.verbose, lang=from_environment(os.environ))


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    return serve(args.host, args.port)


def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import scaffold

    return scaffold(get_settings(), args.slug)


def cmd_migrate(args: argparse.Namespace) -> int:
    from .transfer import main as migrate

    return migrate(args.source, args.target, args.force)


def _prog() -> str:
    """How the user started us: `proclab` (the installed script), or `python -m app` / `python -m proclab`."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return f"python -m {__package__}" if name in ("__main__.py", "-c", "") else name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=_prog(), description="ProcLab: processes and IPC on the real kernel")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="start the lesson server")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.set_defaults(fn=cmd_serve)
    r = sub.add_parser("run", help="run a lesson or a .py or .c file in the sandbox")
    r.add_argument("target", help="lesson id or path to a .py or .c file")
    r.epilog = (f"Exit status: the program's own; 128+N when signal N ended it; {EXIT_LIMIT} when a limit "
                f"ended the run, {EXIT_STOPPED} when it was stopped, {EXIT_PROCLAB} when ProcLab could not run it.")
    r.add_argument("--json", action="store_true", help="print one JSON event per line")
    r.set_defaults(fn=cmd_run)
    c = sub.add_parser("check", help="run lessons and check their expectations on the real kernel")
    c.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    c.add_argument("-v", "--verbose", action="store_true")
    c.set_defaults(fn=cmd_check)
    n = sub.add_parser("new", help="scaffold a new lesson")
    n.add_argument("slug")
    n.set_defaults(fn=cmd_new)
    m = sub.add_parser("migrate", help="copy every recording, room, classroom table and batch into another database",
                       description="Copy a ProcLab database into another, e.g. a data directory's SQLite file into "
                                   "PostgreSQL. Stop the server first; the source is only read.")
    m.add_argument("--from", dest="source", required=True, metavar="URL",
                   help="the database to read: sqlite:///path/to/proclab.db (or postgresql://...)")
    m.add_argument("--to", dest="target", required=True, metavar="URL",
                   help="the database to fill: postgresql://user:password@host:5432/dbname (its tables are made)")
    m.add_argument("--force", action="store_true",
                   help="copy into a database that already has runs: only the rows it lacks are added")
    m.set_defaults(fn=cmd_migrate)
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except SettingsError as e:  # refuse to start, naming each wrong setting and what it accepts
        print(f"proclab: cannot start with these settings:\n{e}", file=sys.stderr)
        return 2
