"""A throwaway PostgreSQL cluster on 127.0.0.1 for the tests and the benchmarks: initdb in a temp folder, a free
port, a password-protected `kdash` role and database, stopped (and the folder removed) on stop().

Debian's `postgresql` package puts its programs in /usr/lib/postgresql/<major>/bin. initdb refuses to run as root,
so under root every program runs as the `postgres` user the package creates."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class ClusterError(Exception):
    pass


def bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl (the newest Debian install, else the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def available() -> bool:
    return bin_dir() is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`with Cluster() as c: c.url` is postgresql://kdash@127.0.0.1:PORT/kdash; its password is c.password (the URL
    carries none: pass it as PGPASSWORD or a secret file, as a clinic would)."""

    def __init__(self, settings: dict[str, str] | None = None):
        self.bin = bin_dir()
        if self.bin is None:
            raise ClusterError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="kdash-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.password = secrets.token_urlsafe(16)
        self.settings = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                         "max_connections": "100", "shared_buffers": "256MB", **(settings or {})}
        self._as_postgres = os.geteuid() == 0
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql://kdash@127.0.0.1:{self.port}/kdash"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, cwd=self.folder)

    def start(self) -> "Cluster":
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(pwfile, "postgres")
        try:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile), "-A", "scram-sha-256",
                      "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8")
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"initdb failed: {exc.stderr.strip()[-400:]}") from None
        finally:
            pwfile.unlink(missing_ok=True)
        self._start_server()
        self.psql(f"CREATE ROLE kdash LOGIN PASSWORD '{self.password}'", "CREATE DATABASE kdash OWNER kdash")
        return self

    def _start_server(self) -> None:
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        try:
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                      "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 {options}", "start")
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"pg_ctl start failed: {exc.stderr.strip()[-400:]} "
                               f"{(self.folder / 'server.log').read_text()[-400:]}") from None
        self.started = True

    def psql(self, *statements: str, database: str = "postgres") -> str:
        args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.folder), "-p", str(self.port),
                "-U", "postgres", "-d", database, "-At"]
        for s in statements:
            args += ["-c", s]
        return self._run(*args).stdout

    def standby(self) -> "Cluster":
        """A streaming standby of this cluster, started on a port of its own (pg_basebackup -R as the README's
        network deployment makes one): it follows this primary until promoted."""
        other = Cluster(self.settings)
        other.password = self.password
        if self._as_postgres:
            shutil.chown(other.folder, "postgres")
        cmd = [str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
               "-D", str(other.data), "-R", "-X", "stream", "-c", "fast"]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=other.folder,
                              env={**os.environ, "PGPASSWORD": self.password})
        if done.returncode:
            shutil.rmtree(other.folder, ignore_errors=True)
            raise ClusterError(f"pg_basebackup failed: {done.stderr.strip()[-400:]}")
        # -R wrote primary_conninfo; this one wins, with the password itself (a PGPASSWORD the server inherits
        # would win over a password file, and it may be another cluster's)
        with open(other.data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"primary_conninfo = 'host=127.0.0.1 port={self.port} user=postgres "
                       f"password={self.password}'\n")
        other._start_server()
        return other

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
