"""Build the native shim with gcc, once per source: the result is cached by a hash of the source and flags.

The launcher calls `install` at start and copies the library into its shim directory (readable by the run
uids, like the Python shim). Without gcc the runs still work: discovery falls back to /proc scanning.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "proclab_native.c")
FLAGS = ["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-fno-stack-protector"]
LIBS = ["-ldl"]
LIB_NAME = "proclab_native.so"


@dataclass
class Built:
    path: str | None  # the library in the shim directory, None when it could not be built
    detail: str  # how it was obtained, or why not
    cached: bool = False


def source_hash() -> str:
    with open(SOURCE, "rb") as f:
        data = f.read()
    return hashlib.sha256(data + " ".join(FLAGS + LIBS).encode()).hexdigest()[:16]


def compile_to(dest: str, cc: str = "gcc") -> None:
    """Compile the shim to dest (atomically: a half-written library is never preloaded)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".native-", suffix=".so")
    os.close(fd)
    try:
        r = subprocess.run([cc, *FLAGS, "-o", tmp, SOURCE, *LIBS], capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"{cc} failed: {(r.stderr or r.stdout).strip()[-800:]}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_problem(lib: str) -> str | None:
    """Why the dynamic loader would refuse lib (e.g. a noexec mount), or None. A refused LD_PRELOAD is not
    fatal, but ld.so would print its complaint into every program's stderr: better not to preload at all."""
    true = shutil.which("true") or "/bin/true"
    try:
        r = subprocess.run([true], env={"LD_PRELOAD": lib, "PATH": "/usr/bin:/bin"}, capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        return f"could not test it: {e}"
    return (r.stderr.strip()[:400] or f"exit status {r.returncode}") if r.stderr or r.returncode else None


def install(cache_dir: str, shim_dir: str) -> Built:
    """The shim library in shim_dir, compiled into cache_dir unless a build of this source is there."""
    cc = shutil.which("gcc") or shutil.which("cc")
    try:
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        cached = os.path.join(cache_dir, f"proclab_native-{source_hash()}.so")
        hit = os.path.exists(cached)
        if not hit:
            if cc is None:
                return Built(None, "no C compiler (gcc) found: processes started from C are found by /proc scans")
            compile_to(cached, cc)
        dest = os.path.join(shim_dir, LIB_NAME)
        tmp = dest + ".tmp"
        shutil.copyfile(cached, tmp)
        os.chmod(tmp, 0o644)
        problem = load_problem(tmp)
        if problem:
            os.unlink(tmp)
            if os.path.exists(dest):
                os.unlink(dest)
            return Built(None, f"native shim not used: {problem}")
        os.replace(tmp, dest)
        return Built(dest, "cached build" if hit else f"built with {cc}", cached=hit)
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        return Built(None, f"native shim not built: {e}")


if __name__ == "__main__":  # `python -m app.sandbox.native.build DIR`: a build for `make install`
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "."
    compile_to(os.path.join(out, LIB_NAME))
    print(os.path.join(out, LIB_NAME))
