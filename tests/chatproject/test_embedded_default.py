"""`make run`'s embedded default (SQLite, no Redis, no NATS) serves the main operations: the suite
itself runs on PostgreSQL, so statements written for PostgreSQL alone would break `make run` unseen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_the_main_operations_work_on_the_embedded_default(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(HERE / "embedded_flow.py"), str(tmp_path / "db.sqlite3")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-1] == "ok"
