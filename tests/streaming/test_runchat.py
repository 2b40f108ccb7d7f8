"""`runchat` (`make run`) checks its port and its embedded NATS data folder before it starts anything:
a second one fails at once, naming the port (or folder) and what to do, without announcing that it
serves and without starting a second nats-server on the same JetStream files."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, Service, free_port, server_env, stop_process

pytestmark = pytest.mark.django_db(transaction=True)

SERVING = "Chat serving on"
NATS_STARTS = "Starting nats-server"  # the line nats-server logs each time it starts


def runchat_env(data_dir: Path) -> dict[str, str]:
    """The embedded default for NATS (NATS_URL unset, a data folder of its own) on the test database."""
    env = server_env(CHAT_NATS_DATA_DIR=str(data_dir), CHAT_EMBEDDED_NATS_PORT=str(free_port()))
    env.pop("NATS_URL", None)
    return env


def runchat(port: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "manage.py", "runchat", "--port", str(port)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def nats_starts(data_dir: Path) -> int:
    log = data_dir / "nats-server.log"
    return log.read_text(errors="replace").count(NATS_STARTS) if log.exists() else 0


@pytest.fixture
def first(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A runchat serving on a free port with a data folder of its own; (its port, its data folder)."""
    port, data_dir = free_port(), tmp_path / "nats"
    args = [sys.executable, "manage.py", "runchat", "--port", str(port)]
    service = Service("runchat", args, env=runchat_env(data_dir), log=tmp_path / "runchat.log")
    service.start()
    try:
        service.wait_output(SERVING, timeout=60)
        service.wait_output("metrics:", timeout=5)
        assert nats_starts(data_dir) == 1
        printed = service.output()
        base = f"http://127.0.0.1:{port}"
        # `make run` says where health, readiness, metrics and the docs are, and each answers there.
        for path in ("/healthz", "/readyz", "/metrics", "/api/docs/", "/api/docs/stream/"):
            assert f"{base}{path}" in printed, (path, printed)
            with urllib.request.urlopen(f"{base}{path}", timeout=10) as answer:
                assert answer.status == 200, path
        assert "manage.py chat_user" in printed  # ordinary users, not createsuperuser
        yield port, data_dir
    finally:
        assert service.proc is not None
        stop_process(service.proc)


def test_a_second_runchat_on_a_taken_port_fails_before_starting_anything(
    first: tuple[int, Path], tmp_path: Path
) -> None:
    port, data_dir = first
    # Even with a data folder of its own, it must not start its NATS: it could never serve.
    other_dir = tmp_path / "other-nats"
    result = runchat(port, runchat_env(other_dir))

    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert f"--port {port + 1}" in result.stderr  # how to choose another
    assert SERVING not in result.stdout
    assert nats_starts(other_dir) == 0
    assert nats_starts(data_dir) == 1


def test_a_second_runchat_on_a_data_folder_in_use_starts_no_second_nats(first: tuple[int, Path]) -> None:
    _, data_dir = first
    result = runchat(free_port(), runchat_env(data_dir))

    assert result.returncode != 0
    assert f"the embedded NATS data folder {data_dir} is in use by another runchat" in result.stderr
    assert "CHAT_NATS_DATA_DIR" in result.stderr
    assert SERVING not in result.stdout
    assert nats_starts(data_dir) == 1
