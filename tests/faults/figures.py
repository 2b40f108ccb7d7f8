"""What a fault run measured, from what the load client observed and storage holds: `figures_of()`.

Per fault: sends attempted and answered 2xx, the others by status, stored, delivered (per socket of
each member of the room), lost, duplicated (a message id a socket got twice), out of order (a
message a socket got after a later-sent one of the same room), recovery (fault end to the first
delivery after it, and to every message sent before it delivered everywhere), reconnects, closes,
error frames, handshakes from the fault's start on (how many, p50, p99, longest) and the connects
that failed meanwhile, presence, error lines logged. `Figures.check()` holds the assertions every
run makes.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.faults.load import Population, Receiver, Send
from tests.faults.topology import ARTIFACTS
from tests.servers import ROOT

SAMPLES = 5  # out-of-order deliveries described in the report
MIN_ANSWERED = 40  # sends answered 2xx for a run to count as "under load"
REPORT = ARTIFACTS / "report.jsonl"
REPORTED: list[str] = []  # this session's lines (conftest.py prints them in the summary)


def _commit() -> str:
    """The checkout's commit, with "+" when its files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "-uno"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


@dataclass(frozen=True)
class Window:
    """When the fault began and ended (time.monotonic()), and what it did."""

    start: float
    end: float
    note: str = ""
    killed_daphne: int | None = None  # a daphne SIGKILLed: its registry entries outlive it
    details: dict[str, Any] = field(default_factory=dict)  # what the fault observed (for its test)


@dataclass
class Observed:
    sends: list[Send]
    receivers: list[Receiver]
    window: Window
    presence_ok: bool
    presence: str


@dataclass
class Figures:
    fault: str
    note: str
    fault_details: dict[str, Any]
    fault_seconds: float
    sockets: int
    sockets_at_start: dict[str, int]  # per daphne
    attempted: int
    answered_2xx: int
    not_2xx: dict[str, int]
    answered_2xx_during_fault: int  # sent between the fault's start and end, answered 2xx
    in_flight_at_fault: dict[str, int]  # sends under way when the fault began: "daphne-<i> <outcome>"
    stored: int  # of the sends answered 2xx
    not_stored: int  # answered 2xx, yet not stored
    stored_unanswered: int  # not answered 2xx, stored all the same (e.g. cut off after the commit)
    stored_twice: int
    expected: int  # (message answered 2xx, socket of a member of its room) pairs
    delivered: int
    lost: int
    lost_messages: int
    duplicated: int
    out_of_order: int  # deliveries after a later message of the same room
    out_of_order_messages: int
    out_of_order_max_lag_s: float  # how much earlier than what it followed such a message was sent
    out_of_order_samples: list[dict[str, Any]]  # a few, with their sends' times from the fault's start
    recovery_first_s: float | None  # fault end -> first delivery after it
    recovery_caught_up_s: float | None  # fault end -> every message sent before it delivered everywhere
    reconnects: int
    reconnect_max_s: float | None  # the longest a closed socket took to be open again
    handshakes: int  # begun from the fault's start on, and done (connect to `{"connected": true}`)
    handshake_p50_s: float | None
    handshake_p99_s: float | None
    handshake_max_s: float | None
    connects_failed: int  # begun from the fault's start on: refused, reset, timed out
    closes: dict[str, int]
    error_frames: dict[str, int]
    presence_ok: bool
    presence: str
    errors_logged: dict[str, int]

    def line(self) -> str:
        def seconds(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}s"

        return (
            f"faults: {self.fault}: sends answered 2xx {self.answered_2xx} of {self.attempted} "
            f"({self.answered_2xx_during_fault} sent during the fault), not 2xx {self.not_2xx}, "
            f"in flight at the fault {self.in_flight_at_fault}, "
            f"stored {self.stored} (+{self.stored_unanswered} unanswered), "
            f"delivered {self.delivered}/{self.expected} to {self.sockets} sockets, lost {self.lost}, "
            f"duplicated {self.duplicated}, out of order {self.out_of_order} ({self.out_of_order_messages} "
            f"messages, up to {self.out_of_order_max_lag_s:.2f}s), recovery: first delivery "
            f"{seconds(self.recovery_first_s)}, caught up {seconds(self.recovery_caught_up_s)}; reconnects "
            f"{self.reconnects} (longest {seconds(self.reconnect_max_s)}), handshakes {self.handshakes} (p50 "
            f"{seconds(self.handshake_p50_s)}, p99 {seconds(self.handshake_p99_s)}, longest "
            f"{seconds(self.handshake_max_s)}), connects failed {self.connects_failed}, closes {self.closes}, "
            f"error frames {self.error_frames}, presence {'ok' if self.presence_ok else 'WRONG ' + self.presence}, "
            f"errors logged {self.errors_logged}" + (f"; {self.note}" if self.note else "")
        )

    def report(self) -> None:
        """Prints the line (and keeps it for the session's summary), appends the JSON line."""
        print(self.line())
        REPORTED.append(self.line())
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with REPORT.open("a") as out:
            out.write(json.dumps({"at": at, "commit": _commit(), **asdict(self)}) + "\n")

    def check(self) -> None:
        """The run's assertions: nothing answered 2xx lost, duplicated, reordered; presence right."""
        assert self.answered_2xx >= MIN_ANSWERED, f"too little load to tell: {self.line()}"
        assert self.not_stored == 0, f"sends answered 2xx are not stored: {self.line()}"
        assert self.stored_twice == 0, f"a send is stored twice: {self.line()}"
        assert self.lost == 0, f"messages lost: {self.line()}"
        assert self.duplicated == 0, f"messages delivered twice: {self.line()}"
        assert self.out_of_order == 0, (
            f"messages out of their room's send order: {self.line()}; e.g. {self.out_of_order_samples}"
        )
        assert self.presence_ok, f"presence is wrong: {self.line()}"


@dataclass
class _Deliveries:
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    max_lag: float = 0.0
    first_after: float | None = None
    caught_up_at: float = 0.0
    backlog_complete: bool = True
    samples: list[dict[str, Any]] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile `q` (0-100) of `values`; None without any."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 3)


def _described(send: Send, window: Window) -> dict[str, Any]:
    """A send, its times relative to the fault's start."""
    return {
        "text": send.text,
        "daphne": send.daphne,
        "sent_s": round(send.started - window.start, 3),
        "answered_s": round(send.answered - window.start, 3),
        "outcome": send.outcome,
    }


def _deliveries(
    population: Population, observed: Observed, by_text: dict[str, Send]
) -> tuple[_Deliveries, set[str], set[str]]:
    window = observed.window
    counted = _Deliveries(caught_up_at=window.end)
    lost_messages: set[str] = set()
    late_messages: set[str] = set()
    sockets: dict[int, list[dict[str, float]]] = defaultdict(list)
    for receiver in observed.receivers:
        first: dict[str, float] = {}  # text -> first arrival, in arrival order
        for at, text in receiver.arrivals:
            if text not in by_text:
                continue
            if text in first:
                counted.duplicated += 1
                continue
            first[text] = at
            if at > window.end and (counted.first_after is None or at < counted.first_after):
                counted.first_after = at
        sockets[receiver.member.index].append(first)
        highest: dict[int, Send] = {}  # per room, the latest-sent message delivered so far
        for text in first:
            send = by_text[text]
            if not send.ok:
                continue
            top = highest.get(send.room)
            if top is not None and send.n < top.n:
                counted.out_of_order += 1
                late_messages.add(text)
                counted.max_lag = max(counted.max_lag, top.started - send.started)
                if len(counted.samples) < SAMPLES and text not in {x["late"]["text"] for x in counted.samples}:
                    counted.samples.append(
                        {"late": _described(send, window), "after": _described(top, window), "socket": receiver.name}
                    )
            else:
                highest[send.room] = send
    for send in by_text.values():
        if not send.ok:
            continue
        for member in population.room_members[send.room]:
            for first in sockets[member.index]:
                counted.expected += 1
                arrived = first.get(send.text)
                if arrived is None:
                    counted.lost += 1
                    lost_messages.add(send.text)
                    counted.backlog_complete &= send.started > window.end
                    continue
                counted.delivered += 1
                if send.started <= window.end:
                    counted.caught_up_at = max(counted.caught_up_at, arrived)
    return counted, lost_messages, late_messages


def figures_of(
    name: str,
    population: Population,
    observed: Observed,
    *,
    stored_ids: set[str],
    stored_texts: Counter[str],
    errors_logged: dict[str, int],
) -> Figures:
    sends = observed.sends
    by_text = {s.text: s for s in sends}
    answered = [s for s in sends if s.ok]
    window = observed.window
    not_stored = sum(1 for s in answered if s.message_id not in stored_ids)

    counted, lost_messages, late_messages = _deliveries(population, observed, by_text)

    closes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    gaps: list[float] = []
    for receiver in observed.receivers:
        closes.update(f"daphne-{c.daphne} {c.how}" for c in receiver.closes)
        errors.update(receiver.errors)
        for close in receiver.closes:
            reopened = [at for at in receiver.opened if at > close.at]
            if reopened:
                gaps.append(reopened[0] - close.at)
    handshakes = [h.seconds for r in observed.receivers for h in r.handshakes if h.started >= window.start]
    return Figures(
        fault=name,
        note=window.note,
        fault_details=dict(window.details),
        fault_seconds=round(window.end - window.start, 2),
        sockets=len(observed.receivers),
        sockets_at_start=dict(Counter(f"daphne-{r.home}" for r in observed.receivers)),
        attempted=len(sends),
        answered_2xx=len(answered),
        not_2xx=dict(Counter(s.outcome for s in sends if not s.ok)),
        answered_2xx_during_fault=sum(1 for s in answered if window.start <= s.started <= window.end),
        in_flight_at_fault=dict(
            Counter(f"daphne-{s.daphne} {s.outcome}" for s in sends if s.started < window.start < s.answered)
        ),
        stored=len(answered) - not_stored,
        not_stored=not_stored,
        stored_unanswered=sum(1 for s in sends if not s.ok and stored_texts[s.text]),
        stored_twice=sum(1 for count in stored_texts.values() if count > 1),
        expected=counted.expected,
        delivered=counted.delivered,
        lost=counted.lost,
        lost_messages=len(lost_messages),
        duplicated=counted.duplicated,
        out_of_order=counted.out_of_order,
        out_of_order_messages=len(late_messages),
        out_of_order_max_lag_s=round(counted.max_lag, 2),
        out_of_order_samples=counted.samples,
        recovery_first_s=None if counted.first_after is None else round(counted.first_after - window.end, 2),
        recovery_caught_up_s=round(counted.caught_up_at - window.end, 2) if counted.backlog_complete else None,
        reconnects=sum(max(0, len(r.opened) - 1) for r in observed.receivers),
        reconnect_max_s=round(max(gaps), 2) if gaps else None,
        handshakes=len(handshakes),
        handshake_p50_s=percentile(handshakes, 50),
        handshake_p99_s=percentile(handshakes, 99),
        handshake_max_s=percentile(handshakes, 100),
        connects_failed=sum(1 for r in observed.receivers for at, _ in r.refusals if at >= window.start),
        closes=dict(closes),
        error_frames=dict(errors),
        presence_ok=observed.presence_ok,
        presence=observed.presence,
        errors_logged=errors_logged,
    )
