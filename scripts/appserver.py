"""Start `streamlit run app.py` on a free port and drive Debian's Chromium against it.

Shared by the browser tests and the app benchmark, so both measure the same thing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
PAGES = {
    "home": "",
    "convolutions": "conv",
    "residual-block": "block",
    "build": "builder",
    "train": "training",
    "gradient-flow": "gradients",
    "inside": "look-inside",
    "experiments": "sweeps",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may contain spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError):
                pass  # gone meanwhile
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        kids = [c for c, p in parents.items() if p == parent]
        found.update(kids)
        frontier.extend(kids)
    return found


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU seconds used so far by these processes (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class App:
    url: str
    pid: int

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory so far (VmHWM), in MB."""
        return self._status_mb("VmHWM")

    def rss_mb(self) -> float:
        """The server process's resident memory now (VmRSS), in MB."""
        return self._status_mb("VmRSS")

    def _status_mb(self, field: str) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(status.split(f"{field}:")[1].split()[0]) / 1024


@contextmanager
def app_server(
    runs_dir: str | Path, timeout: float = 60, cpus: set[int] | None = None
) -> Iterator[App]:
    """The running app once `/_stcore/health` answers ok; the server stops on exit. With `cpus`,
    the server may only run on those CPUs (and sizes its training slots from them)."""
    port = free_port()
    env = dict(os.environ, RESVIZ_RUNS=str(runs_dir))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                if time.monotonic() > end:
                    raise RuntimeError("streamlit did not answer /_stcore/health") from None
                time.sleep(0.2)
        yield App(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def open_page(page, url: str, settle_ms: int = 800) -> None:
    """Load `url` and wait until the script run has finished and plotly has drawn."""
    page.goto(url)
    page.wait_for_selector(READY, timeout=90_000)
    page.wait_for_timeout(settle_ms)
