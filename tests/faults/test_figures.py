"""The fault runs' assertions are real: a lost, duplicated or reordered delivery, a send answered 2xx
and not stored, or wrong presence fails `Figures.check()` (no services: observations made up)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from tests.faults.figures import MIN_ANSWERED, Figures, Observed, Window, figures_of, percentile
from tests.faults.load import Handshake, Member, Population, Receiver, Room, Send

pytestmark = pytest.mark.faults

FAULT = Window(start=10.0, end=12.0)


def _population() -> Population:
    members = [Member(index=i, user_id=100 + i, token="", home=i % 2, devices=1) for i in range(2)]
    rooms = [Room(index=i, id=f"room-{i}", senders=members) for i in range(2)]
    return Population(members=members, offline=[], rooms=rooms, room_members={0: members, 1: members})


def _sends(count: int) -> list[Send]:
    """`count` sends per room, one every 0.1 s from t=8 on, each answered 2xx at once."""
    sends = []
    for n in range(count):
        for room in (0, 1):
            at = 8.0 + n * 0.1
            send = Send(room=room, n=n, text=f"r{room}#{n}", started=at, answered=at, outcome="2xx")
            send.message_id = f"{room}.{n}"
            sends.append(send)
    return sends


def _receivers(population: Population, sends: list[Send]) -> list[Receiver]:
    receivers = []
    for member in population.members:
        receiver = Receiver(member=member, device=0, ports=[1, 2])
        receiver.arrivals = [(s.answered + 0.05, s.text) for s in sends]
        receivers.append(receiver)
    return receivers


def _figures(
    receivers: list[Receiver], sends: list[Send], *, stored: set[str] | None = None, presence_ok: bool = True
) -> Figures:
    population = _population()
    observed = Observed(
        sends=sends, receivers=receivers, window=FAULT, presence_ok=presence_ok, presence="" if presence_ok else "x"
    )
    return figures_of(
        "made up",
        population,
        observed,
        stored_ids={s.message_id for s in sends} if stored is None else stored,
        stored_texts=Counter(s.text for s in sends),
        errors_logged={},
    )


@pytest.fixture
def run() -> tuple[list[Send], list[Receiver]]:
    sends = _sends(MIN_ANSWERED // 2 + 30)  # until t=12.9: some after the fault's end
    return sends, _receivers(_population(), sends)


def test_a_clean_run_passes_with_its_figures(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    figures = _figures(receivers, sends)
    figures.check()
    assert (figures.answered_2xx, figures.expected, figures.delivered) == (100, 200, 200)
    assert (figures.lost, figures.duplicated, figures.out_of_order) == (0, 0, 0)
    # Each message arrives 0.05 s after its send; the last one sent by the fault's end (t=12) at 12.05.
    assert figures.recovery_first_s == pytest.approx(0.05)
    assert figures.recovery_caught_up_s == pytest.approx(0.05)


def test_a_lost_delivery_fails(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    receivers[1].arrivals.pop(7)
    figures = _figures(receivers, sends)
    assert (figures.lost, figures.lost_messages) == (1, 1)
    with pytest.raises(AssertionError, match="messages lost"):
        figures.check()


def test_a_duplicate_fails(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    receivers[0].arrivals.append((30.0, sends[3].text))
    figures = _figures(receivers, sends)
    assert figures.duplicated == 1
    with pytest.raises(AssertionError, match="delivered twice"):
        figures.check()


def test_a_reordered_delivery_fails(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    arrivals = receivers[0].arrivals
    arrivals[4], arrivals[6] = arrivals[6], arrivals[4]  # room 0: #2 and #3 swapped
    figures = _figures(receivers, sends)
    assert (figures.out_of_order, figures.out_of_order_messages) == (1, 1)
    assert figures.out_of_order_samples[0]["late"]["text"] == "r0#2"
    with pytest.raises(AssertionError, match="send order"):
        figures.check()


def test_a_send_answered_2xx_and_not_stored_fails(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    figures = _figures(receivers, sends, stored={s.message_id for s in sends[1:]})
    assert figures.not_stored == 1
    with pytest.raises(AssertionError, match="not stored"):
        figures.check()


def test_wrong_presence_fails(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    with pytest.raises(AssertionError, match="presence is wrong"):
        _figures(receivers, sends, presence_ok=False).check()


def test_sends_not_answered_2xx_are_neither_expected_nor_counted_out_of_order(
    run: tuple[list[Send], list[Receiver]],
) -> None:
    sends, receivers = run
    sends[4] = replace(sends[4], outcome="503", message_id="")
    for receiver in receivers:
        receiver.arrivals = [a for a in receiver.arrivals if a[1] != sends[4].text]
    figures = _figures(receivers, sends)
    figures.check()
    assert figures.not_2xx == {"503": 1}
    assert figures.expected == 198


def test_handshakes_and_failed_connects_count_from_the_faults_start(run: tuple[list[Send], list[Receiver]]) -> None:
    sends, receivers = run
    receivers[0].handshakes = [Handshake(started=5.0, seconds=9.0)]  # before the fault: not counted
    receivers[0].handshakes += [Handshake(started=FAULT.start + i, seconds=0.1 * (i + 1)) for i in range(10)]
    receivers[1].refusals = [(5.0, "1: ConnectionRefusedError"), (FAULT.start + 1, "1: TimeoutError")]
    figures = _figures(receivers, sends)
    assert figures.handshakes == 10
    assert (figures.handshake_p50_s, figures.handshake_p99_s, figures.handshake_max_s) == (0.5, 1.0, 1.0)
    assert figures.connects_failed == 1


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([], 50) is None
