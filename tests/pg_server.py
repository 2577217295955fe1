"""A real PostgreSQL server for tests: Debian's initdb/pg_ctl in a temp dir, on a free loopback port.

As root the cluster belongs to the `postgres` user (PostgreSQL refuses to run as root), so its directory
is one that user can reach: a fresh /tmp dir when the given one sits under a 0700 parent (pytest's).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

DB_NAME = "proclab"
SUPERUSER = "postgres"


def pg_bin(name: str) -> str:
    """The newest installed /usr/lib/postgresql/<version>/bin/<name>."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"no /usr/lib/postgresql/*/bin/{name}: install the Debian package `postgresql`")
    return found[-1]


def available() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_by_others(path: Path) -> bool:
    """Every parent of path lets other users through (x for others)."""
    for p in [path, *path.parents]:
        if not os.stat(p).st_mode & 0o001:
            return False
    return True


def start_postgres(tmpdir: Path) -> tuple[str, Callable[[], None]]:
    """Start a PostgreSQL cluster (trust auth, loopback TCP, unix socket in its dir) with a database
    `proclab`; returns (postgresql://postgres@127.0.0.1:<port>/proclab, stop). stop() removes the cluster."""
    as_root = os.geteuid() == 0
    tmpdir.mkdir(parents=True, exist_ok=True)
    if as_root and not _reachable_by_others(tmpdir):
        base = Path(tempfile.mkdtemp(prefix="proclab-pg-"))  # /tmp is reachable by everyone
    else:
        base = Path(tempfile.mkdtemp(prefix="pg-", dir=tmpdir))
    data, sock, log = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    if as_root:
        import pwd

        pw = pwd.getpwnam(SUPERUSER)
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        base.chmod(0o711)
    prefix = ["runuser", "-u", SUPERUSER, "--"] if as_root else []

    def run(*cmd: str) -> None:
        r = subprocess.run([*prefix, *cmd], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=120)
        if r.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stdout}{r.stderr}{tail}")

    port = _free_port()
    run(pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--no-locale")
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
    run(pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start")

    def stop() -> None:
        subprocess.run([*prefix, pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    try:
        run(pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DB_NAME)
    except BaseException:
        stop()
        raise
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DB_NAME}", stop


def create_database(url: str, name: str) -> str:
    """Another empty database on the same server (a test that needs a clean one); returns its URL."""
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    prefix = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, pg_bin("createdb"), "-h", host, "-p", port, "-U", SUPERUSER, name],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    return url.rsplit("/", 1)[0] + "/" + name
