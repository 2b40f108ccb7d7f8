"""SOAK: a steady send load for minutes on 1,000 sockets; memory of daphne and the bridge over time.

The send run of S1 (bench/sends.py: rooms of 10, one room's sends one after the other, every delivery
checked) at a steady rate for `duration` seconds, while the resident memory (RSS) of the daphne and
bridge processes is sampled every `sample_every` seconds. The figure of interest is the growth after
warm-up: the RSS at the end against the RSS `warmup` seconds into the run (issue: under 10%), with the
error lines of the processes' logs (bench/run.py reports those for every case).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.harness import rss_kib
from bench.sends import send_run
from bench.targets import Target

ROLES = ("daphne", "bridge")


def _rss(target: Target) -> dict[str, int]:
    return {role: sum(rss_kib(p.pid) for p in target.services.of(role)) for role in ROLES}


def growth(samples: list[tuple[float, dict[str, int]]], *, warmup: float) -> dict[str, Any]:
    """Per role: RSS at warm-up (the first sample at or after `warmup` s), at the end, the most seen
    after warm-up, and the growth from warm-up to the end in percent."""
    figures: dict[str, Any] = {}
    after = [s for s in samples if s[0] >= warmup] or samples[-1:]
    for role in ROLES:
        warm, end = after[0][1][role], after[-1][1][role]
        figures[f"rss_{role}_warm_kib"] = warm
        figures[f"rss_{role}_end_kib"] = end
        figures[f"rss_{role}_max_kib"] = max(s[1][role] for s in after)
        figures[f"rss_{role}_growth_pct"] = round(100 * (end - warm) / warm, 1) if warm else float("nan")
    return figures


async def soak_run(
    target: Target,
    *,
    sockets: int,
    rate: float,
    duration: float,
    drain: float,
    warmup: float = 60.0,
    sample_every: float = 10.0,
) -> dict[str, Any]:
    samples: list[tuple[float, dict[str, int]]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        began = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - began, await asyncio.to_thread(_rss, target)))
            try:
                await asyncio.wait_for(stop.wait(), sample_every)
            except TimeoutError:
                pass

    sampler = asyncio.create_task(sample())
    try:
        result = await send_run(target, sockets=sockets, room_size=10, rate=rate, duration=duration, drain=drain)
    finally:
        stop.set()
        await sampler
    return {
        **result,
        "duration_s": duration,
        "warmup_s": warmup,
        **growth(samples, warmup=warmup),
        "rss_samples": [(round(t), kib) for t, kib in samples],
    }
