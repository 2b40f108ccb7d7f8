"""streaming.replay.DecodedEvents: the members of a room who reconnect together replay the same events;
each is decoded once per process, and every replay still gets the item of its own chain."""

from __future__ import annotations

import uuid

from nats.aio.msg import Msg

from streaming import replay
from streaming.envelope import MSG_ID_HEADER, encode_envelope
from streaming.replay import DecodedEvents


def _msg(text: str, *, event_id: str | None = None, room_id: str = "") -> Msg:
    room_id = room_id or str(uuid.uuid4())
    event_id = event_id or str(uuid.uuid4())
    data = {"event_id": event_id, "room_id": room_id, "message": {"id": "m", "room_id": room_id, "text": text}}
    return Msg(
        _client=None,  # type: ignore[arg-type]
        subject=f"CHAT_EVENTS.{room_id}",
        data=encode_envelope(actor_user_id="7", data=data),
        headers={MSG_ID_HEADER: event_id},
    )


def test_an_event_is_decoded_once_and_each_replay_gets_its_own_prev(monkeypatch) -> None:
    decodes: list[bytes] = []
    decode = replay.decode_envelope
    monkeypatch.setattr(replay, "decode_envelope", lambda raw: decodes.append(raw) or decode(raw))
    events = DecodedEvents(1 << 20)
    msg = _msg("hello")

    first = events.item(msg, seq=12, prev=None)
    second = events.item(msg, seq=12, prev=9)

    assert len(decodes) == 1
    assert (first.prev, second.prev) == (None, 9)
    assert second.text == first.text and '"cursor": "12"' in second.text
    assert second.view == first.view and second.actor_user_id == "7"


def test_the_same_sequence_of_another_stream_is_decoded_again() -> None:
    events = DecodedEvents(1 << 20)
    one = events.item(_msg("one"), seq=5, prev=None)
    other = events.item(_msg("other"), seq=5, prev=None)  # a new stream: another event id
    assert '"one"' in one.text and '"other"' in other.text


def test_it_keeps_at_most_its_bytes_dropping_the_least_recently_used() -> None:
    events = DecodedEvents(3 * (DecodedEvents.ENTRY_BYTES + 400))
    for seq in range(1, 11):
        events.item(_msg("x" * 200), seq=seq, prev=None)
    assert 0 < events.bytes <= events.max_bytes
    assert len(events._events) < 10
