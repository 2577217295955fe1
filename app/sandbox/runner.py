"""Runs the scenario's main file inside the forked root process, as `python main.py` would.

The root is forked from a pre-imported interpreter (about 2 ms instead of a
cold start), so this module reproduces what the interpreter does around a
script: __main__, sys.argv, tracebacks that show only the student's frames,
KeyboardInterrupt ending the process by SIGINT, non-daemon threads joined and
atexit handlers run at the end. Forked children that fall off the end of the
script come back through here too, exactly like in a real interpreter.
"""

from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import io
import os
import signal
import sys
import threading
import traceback
import types


def _print_exception(exc: BaseException, run_dir: str) -> None:
    """A traceback without the sandbox's own frames."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(run_dir):
        tb = tb.tb_next
    te = traceback.TracebackException(type(exc), exc, tb)
    sys.stderr.write("".join(te.format()))


def _finalize() -> None:
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as at interpreter exit
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _exec_main(path: str) -> None:
    """Run the file as the interpreter runs a script: a fresh __main__ whose __file__ is the
    absolute path, while sys.argv[0] stays as typed (runpy.run_path would set it to the path)."""
    loader = importlib.machinery.SourceFileLoader("__main__", path)
    mod = types.ModuleType("__main__")
    mod.__dict__.update({"__file__": path, "__cached__": None, "__loader__": loader, "__spec__": None,
                         "__builtins__": builtins})
    sys.modules["__main__"] = mod
    with io.open_code(path) as f:
        source = f.read()
    exec(compile(source, path, "exec", dont_inherit=True), mod.__dict__)


def run_main(run_dir: str, main: str) -> None:
    """Never returns: ends the process with the script's exit status."""
    from . import compile, shim

    if compile.Language.of(main) is compile.Language.C:
        compile.exec_program(run_dir, main)
    run_dir = os.path.realpath(run_dir)
    path = os.path.join(run_dir, main)
    # Nothing of the server's import path stays visible to the scenario.
    sys.path[:] = [run_dir] + [p for p in sys.path if p.startswith(sys.base_prefix) or p.startswith(sys.prefix)]
    sys.argv = [main]
    shim.activate(run_dir, how="root")
    code = 0
    kill_with: int | None = None
    try:
        _exec_main(path)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code & 0xFF
        else:
            try:
                sys.stderr.write(f"{e.code}\n")
            except BaseException:
                pass
            code = 1
    except KeyboardInterrupt as e:
        _print_exception(e, run_dir)
        kill_with = signal.SIGINT  # CPython ends by SIGINT after an uncaught KeyboardInterrupt
    except BaseException as e:
        try:
            shim.report_exception(e)
            _print_exception(e, run_dir)
        except BaseException:
            pass
        code = 1
    _finalize()
    if kill_with is not None:
        signal.signal(kill_with, signal.SIG_DFL)
        os.kill(os.getpid(), kill_with)
    os._exit(code)
