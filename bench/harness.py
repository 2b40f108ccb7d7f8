"""Processes of a benchmark run: start/stop, ports, CPU and memory of a process, the bench database."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FD_LIMIT = 65536


def raise_fd_limit() -> int:
    """Raises RLIMIT_NOFILE to the hard limit (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else FD_LIMIT
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Process:
    name: str
    role: str  # daphne, bridge, push, nats
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Services:
    """The processes a scenario starts, stopped in reverse order; logs kept in `logs`."""

    logs: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, role: str, args: list[str], env: dict[str, str]) -> Process:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process = Process(name, role, popen)
        self.processes.append(process)
        return process

    def of(self, role: str) -> list[Process]:
        return [p for p in self.processes if p.role == role]

    def alive(self) -> list[str]:
        return [p.name for p in self.processes if p.popen.poll() is None]

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.popen.wait(15)
            except subprocess.TimeoutExpired:
                print(f"  {process.name} did not stop: killed", flush=True)
                process.popen.kill()
                process.popen.wait(5)
        self.processes.clear()


def new_log_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="chat-bench-"))


def daphne_args(port: int, application: str) -> list[str]:
    # -v 0 as README "Production" says: the access line is the application's (chatproject.access_log).
    return [str(VENV_BIN / "daphne"), "-v", "0", "-b", "127.0.0.1", "-p", str(port), application]


class CpuMeter:
    """CPU % of one core per process (and the load client itself) between start() and stop()."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.began = 0.0
        self.percent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        values = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.pids.items()}
        values["client"] = time.process_time()
        return values

    def start(self) -> None:
        self.before = self._now()
        self.began = time.monotonic()

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-6, time.monotonic() - self.began)
        after = self._now()
        self.percent = {name: round(100 * (after[name] - self.before.get(name, 0.0)) / elapsed, 1) for name in after}
        return self.percent
