"""After a database outage the connection pool tries again every second, not after 1, 2, 4, 8 ... s."""

from __future__ import annotations

from psycopg_pool.base import AttemptWithBackoff


def test_failed_connects_are_retried_about_every_second() -> None:
    attempt = AttemptWithBackoff(timeout=300.0)
    delays = []
    for second in range(8):  # eight failed attempts in a row, as during an outage
        attempt.update_delay(now=float(second))
        delays.append(attempt.delay)
    assert all(0.8 <= delay <= 1.2 for delay in delays), delays
