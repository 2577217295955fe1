"""A real Redis server for tests: Debian's redis-server on a free loopback port, no persistence.

Each call starts its own server in a temp dir (no RDB snapshots, no AOF, no unix socket), so tests
never share state with each other or with a Redis the machine may run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def available() -> bool:
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(tmpdir: Path, port: int | None = None) -> tuple[str, Callable[[], None]]:
    """Start redis-server (on `port`: again where one was stopped); returns (redis://127.0.0.1:<port>/0,
    stop). stop() ends it and waits."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("no redis-server on PATH: install the Debian package `redis-server`")
    tmpdir.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    log = tmpdir / "redis.log"
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmpdir), "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--logfile", str(log), "--protected-mode", "yes"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not _answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"redis-server did not start on port {port}: {text[-2000:]}")
        time.sleep(0.05)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    return f"redis://127.0.0.1:{port}/0", stop
