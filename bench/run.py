"""`make bench`: the chat's scenarios on the real services, beside a storage-less baseline chat.

    .venv/bin/python bench/run.py                       # S1,S2,S3,S5,S6, baseline beside
    .venv/bin/python bench/run.py --quick               # a smoke run, short and small
    .venv/bin/python bench/run.py --scenarios S1,S6 --no-baseline --daphnes 2 --bridges 2
    .venv/bin/python bench/run.py --scenarios S3 --hold 60

Production topology per scenario: `--daphnes` daphne processes (default 1) serving REST and the
stream, `--bridges` `chat_bridge` processes (default 1; the first also runs the outbox relay),
PostgreSQL (database chat_bench, truncated between scenarios), Redis db 5 (channels_redis pubsub,
flushed between scenarios), a private nats-server with JetStream. The baseline is one daphne serving
bench/baseline (no storage) on the same Redis layer. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import data, production_env, report  # noqa: E402
from bench.harness import ROOT, free_port, new_log_dir, raise_fd_limit  # noqa: E402
from bench.idle import idle_run  # noqa: E402
from bench.queries import queries_run  # noqa: E402
from bench.reconnect import reconnect_run  # noqa: E402
from bench.sends import send_run  # noqa: E402
from bench.soak import soak_run  # noqa: E402
from bench.targets import Baseline, Config, Project, Target  # noqa: E402

ALL = ("S1", "S2", "S3", "S5", "S6")
# Run only when asked for (--scenarios SOAK): minutes of steady load, memory over time.
EXTRA = ("SOAK",)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(ALL), help="comma-separated, of " + ",".join(ALL + EXTRA))
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke run")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--daphnes", type=int, default=1)
    parser.add_argument("--bridges", type=int, default=1)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending per rate (S1, S2)")
    parser.add_argument("--s1-rates", default="100,300")
    parser.add_argument("--s2-rates", default="2,5")
    parser.add_argument("--s3-sockets", default="2000,5000")
    parser.add_argument("--hold", type=float, default=300.0, help="seconds the S3 sockets are held")
    parser.add_argument("--s5-clients", type=int, default=1000)
    parser.add_argument("--s5-missed", type=int, default=20, help="messages per room while away")
    parser.add_argument("--s6-rooms", type=int, default=1000)
    parser.add_argument("--s6-calls", type=int, default=50)
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--soak-rate", type=float, default=30.0, help="msg/s of the soak (1,000 sockets)")
    parser.add_argument("--drain", type=float, default=30.0, help="max seconds to wait for deliveries")
    parser.add_argument("--database", default="postgres://chat:chat@127.0.0.1:5432/chat_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    args.scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(ALL) - set(EXTRA)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def cases(args: argparse.Namespace) -> list[tuple[str, str, bool, Callable[[Target], Awaitable[dict[str, Any]]]]]:
    """(scenario, case, baseline too, run) in order."""
    q = args.quick
    settle = 2.0 if q else data.STATS_FLUSH_SECONDS
    duration = 5.0 if q else args.duration
    found: list[tuple[str, str, bool, Callable[[Target], Awaitable[dict[str, Any]]]]] = []

    def add(scenario: str, case: str, baseline: bool, run: Callable[[Target], Awaitable[dict[str, Any]]]) -> None:
        if scenario in args.scenarios:
            found.append((scenario, case, baseline, run))

    sockets, rooms = (200, 10) if q else (1000, 10)
    for rate in [20.0] if q else [float(r) for r in args.s1_rates.split(",")]:
        add(
            "S1",
            f"{sockets} sockets, rooms of {rooms}, {rate:g} msg/s",
            True,
            partial(send_run, sockets=sockets, room_size=rooms, rate=rate, duration=duration, drain=args.drain),
        )
    members = 200 if q else 1000
    for rate in [2.0] if q else [float(r) for r in args.s2_rates.split(",")]:
        add(
            "S2",
            f"1 room of {members}, {rate:g} msg/s",
            True,
            partial(
                send_run,
                sockets=members,
                room_size=members,
                rate=rate,
                duration=duration,
                drain=args.drain,
                serialize=False,
            ),
        )
    hold = 10.0 if q else args.hold
    for count in [300] if q else [int(n) for n in args.s3_sockets.split(",")]:
        add("S3", f"{count} idle sockets, {hold:g} s", True, partial(idle_run, sockets=count, hold=hold))
    clients, missed = (200, 5) if q else (args.s5_clients, args.s5_missed)
    add(
        "S5",
        f"{clients} clients reconnect, {missed} missed per room",
        False,
        lambda t: reconnect_run(t, clients_count=clients, room_size=10, missed=missed, settle=settle),
    )
    rooms6, calls = (100, 10) if q else (args.s6_rooms, args.s6_calls)
    add(
        "S6",
        f"user in {rooms6} rooms, {calls} calls",
        False,
        lambda t: queries_run(t, rooms=rooms6, calls=calls, settle=settle),
    )
    soak = 60.0 if q else args.soak_minutes * 60
    add(
        "SOAK",
        f"{sockets} sockets, rooms of 10, {args.soak_rate:g} msg/s for {soak:g} s",
        True,
        partial(
            soak_run,
            sockets=sockets,
            rate=args.soak_rate,
            duration=soak,
            drain=args.drain,
            warmup=min(60, soak / 4),
        ),
    )
    return found


def log_errors(target: Target) -> list[str]:
    """Lines of the target's process logs that show an error (they are the app's, reported as found)."""
    found: list[str] = []
    for process in target.services.processes:
        path = target.services.logs / f"{process.name}.log"
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [ln for ln in lines if "Traceback" in ln or "ERROR" in ln or "Error" in ln[:80]]
        if hits:
            found.append(f"{process.name}: {len(hits)} error lines, first: {hits[0][:200]}")
    return found


async def run_case(target: Target, tag: str, run: Callable[[Target], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    await asyncio.to_thread(target.start, tag)
    try:
        result = await run(target)
        result["log_errors"] = log_errors(target)
        result["crashed"] = [p.name for p in target.services.processes if p.popen.poll() is not None]
        return result
    finally:
        await asyncio.to_thread(target.stop)


async def main_async(args: argparse.Namespace) -> int:
    from streaming.embedded import EmbeddedNats

    limit = raise_fd_limit()
    logs = new_log_dir()
    nats = EmbeddedNats(data_dir=tempfile.mkdtemp(prefix="chat-bench-nats-"), port=free_port())
    nats_url = nats.start()
    config = Config(
        database=args.database,
        redis_url=args.redis_url,
        nats_url=nats_url,
        logs=logs,
        daphnes=args.daphnes,
        bridges=args.bridges,
        nats_pid=nats.process.pid if nats.process else 0,
    )
    production_env.ensure()  # every process of the run inherits it (bench.targets.base_env)
    os.environ.update(
        DATABASE_URL=args.database,
        REDIS_URL=args.redis_url,
        NATS_URL=nats_url,
        CHAT_PUBLISH_ON_COMMIT="1",
        CHAT_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="chatproject.settings",
        CHAT_CHANNEL_LAYER_PREFIX="bench-setup",
    )
    print(f"file descriptors: {limit}; logs in {logs}; daphnes {args.daphnes}, bridges {args.bridges}", flush=True)
    data.recreate_database(args.database)
    await asyncio.to_thread(data.setup_django)
    status = 0
    try:
        for number, (scenario, case, with_baseline, run) in enumerate(cases(args)):
            tag = f"{scenario.lower()}-{number}"
            print(f"\n{time.strftime('%H:%M:%S')} {scenario} {case}: project ...", flush=True)
            project = await run_case(Project(config), tag, run)
            baseline = None
            if with_baseline and args.baseline:
                print(f"{time.strftime('%H:%M:%S')} {scenario} {case}: baseline ...", flush=True)
                baseline = await run_case(Baseline(config), tag, run)
            report.print_case(scenario, case, project, baseline)
            for name, result in (("project", project), ("baseline", baseline)):
                if result and (report.problems(result) or result.get("crashed")):
                    print(f"  !! {name}: lost/duplicated/out of order/errors/dropped/crashed", flush=True)
                    status = 1
                for line in (result or {}).get("log_errors", []):
                    print(f"  log ({name}) {line}")
    finally:
        nats.stop()
        print(f"\n(process logs in {logs})")
    return status


def main() -> None:
    os.chdir(ROOT)
    sys.exit(asyncio.run(main_async(parse_args())))


if __name__ == "__main__":
    main()
