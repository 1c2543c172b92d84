"""The real app under `streamlit run` on a free local port, and Debian's Chromium: for the browser tests and the
browser benchmarks (never a downloaded browser)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `streamlit run app.py`: its URL, its process (for CPU and memory) and its log."""

    def __init__(self, url: str, proc: subprocess.Popen, log_path: str):
        self.url, self.proc, self.log_path = url, proc, log_path

    def get(self, path: str, timeout: float = 2) -> int:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0


@contextlib.contextmanager
def streamlit_server(db_path: str, extra_env: dict | None = None, log_path: str | None = None,
                     wait_ready: bool = False, timeout: float = 120):
    """Start the app on `db_path`; yields a Server once /_stcore/health answers (and, with wait_ready, once the
    start-up warm-up has filled the shared caches: /_kdash/ready)."""
    port = free_port()
    env = {**os.environ, "KDASH_DB": db_path, **(extra_env or {})}
    log_path = log_path or str(Path(db_path).with_suffix(".server.log"))
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.time() + timeout
        while server.get("/_stcore/health") != 200:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("streamlit did not start; see " + log_path)
            time.sleep(0.2)
        while wait_ready and server.get("/_kdash/ready") != 200:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("the app did not finish warming up; see " + log_path)
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
