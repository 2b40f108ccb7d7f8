"""The printed table (project beside baseline, with the ratio) and one JSON line per scenario case."""

from __future__ import annotations

import json
import math
from typing import Any

# The figures shown in the table per scenario (dotted paths into a result); all are in the JSON.
SHOWN: dict[str, list[str]] = {
    "S1": [
        "rate_achieved",
        "delivery_p50_ms",
        "delivery_p99_ms",
        "delivery_max_ms",
        "rest_p50_ms",
        "rest_p99_ms",
        "lost",
        "duplicated",
        "out_of_order",
        "send_errors",
        "cpu_pct.daphne",
        "cpu_pct.bridge",
        "cpu_pct.nats",
        "cpu_pct.postgres",
        "cpu_pct.client",
    ],
    "S2": [
        "rate_achieved",
        "last_member_p50_ms",
        "last_member_p99_ms",
        "last_member_max_ms",
        "delivery_p50_ms",
        "rest_p50_ms",
        "rest_p99_ms",
        "lost",
        "duplicated",
        "out_of_order",
        "cpu_pct.daphne",
        "cpu_pct.bridge",
        "cpu_pct.nats",
        "cpu_pct.postgres",
        "cpu_pct.client",
    ],
    "S3": [
        "open_s",
        "kib_per_socket",
        "kib_per_socket_after_hold",
        "idle_cpu_pct.daphne",
        "idle_cpu_pct.bridge",
        "idle_cpu_pct.postgres",
        "dropped_sockets",
    ],
    "S5": [
        "all_connected_s",
        "caught_up_p50_s",
        "caught_up_p99_s",
        "all_caught_up_s",
        "lost",
        "duplicated",
        "out_of_order",
        "error_frames",
        "connects_refused_then_retried",
        "replay_after_connect_p50_ms",
        "replay_after_connect_p99_ms",
        "db_xact_per_client",
        "db_tup_fetched_per_client",
        "cpu_pct.daphne",
        "cpu_pct.postgres",
    ],
    "S6": [
        "InitialSync.call_p50_ms",
        "InitialSync.call_p99_ms",
        "InitialSync.queries_per_call_in_process",
        "InitialSync.xact_per_call",
        "InitialSync.tup_fetched_per_call",
        "GetRooms.call_p50_ms",
        "GetRooms.call_p99_ms",
        "GetRooms.queries_per_call_in_process",
        "GetRooms.xact_per_call",
        "GetRooms.tup_fetched_per_call",
    ],
    "SOAK": [
        "rate_achieved",
        "delivery_p50_ms",
        "delivery_p99_ms",
        "delivery_max_ms",
        "lost",
        "duplicated",
        "out_of_order",
        "send_errors",
        "dropped_sockets",
        "rss_daphne_warm_kib",
        "rss_daphne_end_kib",
        "rss_daphne_max_kib",
        "rss_daphne_growth_pct",
        "rss_bridge_warm_kib",
        "rss_bridge_end_kib",
        "rss_bridge_growth_pct",
        "cpu_pct.daphne",
        "cpu_pct.bridge",
    ],
}
PROBLEMS = ("lost", "duplicated", "out_of_order", "send_errors", "dropped_sockets")


def pick(result: dict[str, Any] | None, path: str) -> Any:
    value: Any = result
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:g}"
    return str(value)


def ratio(project: Any, baseline: Any) -> float | None:
    if not isinstance(project, int | float) or not isinstance(baseline, int | float):
        return None
    if baseline == 0 or math.isnan(project) or math.isnan(baseline):
        return None
    return round(project / baseline, 2)


def problems(result: dict[str, Any] | None) -> int:
    return sum(int(pick(result, k) or 0) for k in PROBLEMS)


def print_case(scenario: str, case: str, project: dict[str, Any] | None, baseline: dict[str, Any] | None) -> None:
    print(f"\n== {scenario} {case}")
    print(f"  {'figure':<42} {'project':>12} {'baseline':>12} {'ratio':>8}")
    for path in SHOWN[scenario]:
        p, b = pick(project, path), pick(baseline, path)
        r = ratio(p, b)
        print(f"  {path:<42} {_fmt(p):>12} {_fmt(b):>12} {_fmt(r):>8}")
    ratios = {path: ratio(pick(project, path), pick(baseline, path)) for path in SHOWN[scenario]}
    line = {
        "scenario": scenario,
        "case": case,
        "project": project,
        "baseline": baseline,
        "ratio": {k: v for k, v in ratios.items() if v is not None},
    }
    print("JSON " + json.dumps(line, default=str), flush=True)
