"""Settings of the benchmark's processes: the project's, plus a PostgreSQL connection pool.

Under ASGI, Django runs each request's sync code in a fresh thread, so CONN_MAX_AGE cannot reuse
connections: every request would pay a PostgreSQL connect (~10 ms here, more than the send itself).
Django's psycopg pool (OPTIONS["pool"], needs the `psycopg-pool` package) removes that cost; the
benchmark uses it when the package is installed and says so.
"""

from __future__ import annotations

from importlib.util import find_spec

from chatproject.settings import *  # noqa: F403
from chatproject.settings import DATABASES

BENCH_DB_POOL = find_spec("psycopg_pool") is not None and "postgresql" in DATABASES["default"]["ENGINE"]
if BENCH_DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 8, "timeout": 10}
