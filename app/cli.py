"""Command line: serve, run, check, new."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .runspec import build_spec
from .sandbox.client import Launcher, LauncherError
from .settings import Settings, get_settings
from .version import version

MAX_SIBLINGS = 64
MAX_SIBLING_BYTES = 2 * 2**20


def files_for_path(path: Path) -> tuple[dict[str, str], str]:
    """A .py file on disk becomes a run: the file, plus small sibling scenario files it may use."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    files = {path.name: path.read_text(encoding="utf-8")}
    siblings = [p for p in sorted(path.parent.iterdir()) if p.is_file() and p.suffix in (".py", ".txt")
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


def stream_run(launcher: Launcher, spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Start a run and yield its events until run.finished."""
    sock = launcher.open_run(spec)
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line:
                    ev = json.loads(line)
                    yield ev
                    if ev["type"] == "run.finished":
                        return
    finally:
        sock.close()


def cmd_run(args: argparse.Namespace) -> int:
    settings = get_settings()
    target = args.target
    lesson_id = None
    limits = None
    stdin = None
    p = Path(target)
    if target.endswith(".py") or p.is_file():
        try:
            files, main = files_for_path(p)
        except (OSError, UnicodeDecodeError) as e:
            print(f"proclab: {e}", file=sys.stderr)
            return 2
    else:
        from .lessons import LessonStore

        store = LessonStore(settings.lessons_dir)
        lesson = store.get(target)
        if lesson is None:
            print(f"proclab: no lesson {target!r}; known: {', '.join(sorted(store.lessons))}", file=sys.stderr)
            for err in store.errors:
                print(f"proclab: {err}", file=sys.stderr)
            return 2
        files, main, lesson_id, limits, stdin = lesson.files, lesson.main, lesson.id, lesson.limits, lesson.stdin
    try:
        launcher = make_launcher(settings)
    except LauncherError as e:
        print(f"proclab: {e}", file=sys.stderr)
        return 2
    try:
        spec = build_spec(settings, launcher, files, main, lesson_id, limits, stdin)
        last: dict[str, Any] = {}
        for ev in stream_run(launcher, spec):
            last = ev
            if args.json:
                print(json.dumps(ev, ensure_ascii=False), flush=True)
            else:
                _print_human(ev)
    except LauncherError as e:
        print(f"proclab: {e}", file=sys.stderr)
        return 2
    finally:
        launcher.stop()
    if last.get("type") != "run.finished":
        print("proclab: the run ended without a run.finished event", file=sys.stderr)
        return 2
    if last["status"] == "error" and last.get("duration_ms", 0) == 0:
        return 2
    return 0


def _print_human(ev: dict[str, Any]) -> None:
    t = ev["t"] / 1e6
    kind = ev["type"]
    if kind == "io.output":
        for line in ev["text"].splitlines():
            print(f"{t:9.1f} ms [{ev['pid']}] {line}")
    elif kind == "proc.state":
        reason = f" ({ev['reason']})" if ev.get("reason") else ""
        print(f"{t:9.1f} ms   pid {ev['pid']}: {ev['prev']} -> {ev['state']} [{ev['stat']}]{reason}")
    elif kind in ("proc.spawn", "proc.reparent", "proc.exit", "proc.reaped", "run.limit", "run.started",
                  "signal.sent", "proc.exec", "run.error"):
        rest = {k: v for k, v in ev.items() if k not in ("v", "seq", "t", "type")}
        print(f"{t:9.1f} ms   {kind} {json.dumps(rest, ensure_ascii=False)}")
    elif kind == "run.finished":
        print(f"{t:9.1f} ms   finished: {ev['status']} — {ev['message']['en']}")


def cmd_check(args: argparse.Namespace) -> int:
    from .checker import check_lessons

    return check_lessons(get_settings(), args.lessons, verbose=args.verbose)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    return serve(args.host, args.port)


def cmd_new(args: argparse.Namespace) -> int:
    from .scaffold import scaffold

    return scaffold(get_settings(), args.slug)


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
    r = sub.add_parser("run", help="run a lesson or a .py file in the sandbox")
    r.add_argument("target", help="lesson id or path to a .py file")
    r.add_argument("--json", action="store_true", help="print one JSON event per line")
    r.set_defaults(fn=cmd_run)
    c = sub.add_parser("check", help="run lessons and check their expectations on the real kernel")
    c.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    c.add_argument("-v", "--verbose", action="store_true")
    c.set_defaults(fn=cmd_check)
    n = sub.add_parser("new", help="scaffold a new lesson")
    n.add_argument("slug")
    n.set_defaults(fn=cmd_new)
    args = parser.parse_args(argv)
    return int(args.fn(args))
