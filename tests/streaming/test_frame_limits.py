"""The stream's own limits: client frames per connection, open streams per user."""

from __future__ import annotations

import pytest

from streaming.frame_limits import FrameLimiter
from tests.streaming.helpers import StreamClient, make_users, rest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_frame_window_slides() -> None:
    limiter = FrameLimiter(limit=2, window=10.0)
    assert limiter.allow(now=0.0) and limiter.allow(now=1.0)
    assert not limiter.allow(now=2.0)
    assert limiter.should_tell(now=2.0) and not limiter.should_tell(now=3.0)
    assert limiter.allow(now=10.5)  # the first frame left the window


async def test_frames_over_the_rate_get_one_error_and_are_ignored(settings) -> None:
    settings.CHAT_STREAM_FRAME_RATE = 5
    (alice,) = await rest(make_users)(1)
    socket = await StreamClient.open(alice)
    try:
        await socket.wait_for(lambda f: f.get("connected") is True)
        for n in range(8):
            await socket.send({"ping": n})
        await socket.wait_for(lambda f: (f.get("error") or {}).get("code") == "rate_limited")
        await socket.collect(0.5)
        assert [f["pong"] for f in socket.frames if "pong" in f] == [0, 1, 2, 3, 4]
        assert len([f for f in socket.frames if "error" in f]) == 1
        assert socket.close_code is None  # still open and served
    finally:
        await socket.close()


async def test_a_user_has_at_most_the_configured_number_of_streams(settings) -> None:
    settings.CHAT_MAX_SOCKETS_PER_USER = 2
    alice, bob = await rest(make_users)(2)
    first = await StreamClient.open(alice, client_id="a1")
    second = await StreamClient.open(alice, client_id="a2")
    try:
        for socket in (first, second):
            await socket.wait_for(lambda f: f.get("connected") is True)
        third = await StreamClient.open(alice, client_id="a3")
        await third.wait_for(lambda f: (f.get("error") or {}).get("code") == "too_many_connections")
        assert await third.wait_closed() == 4029
        other = await StreamClient.open(bob)  # another user's budget is their own
        await other.wait_for(lambda f: f.get("connected") is True)
        await other.close()
        await second.close()
        again = await StreamClient.open(alice, client_id="a3")
        await again.wait_for(lambda f: f.get("connected") is True)
        await again.close()
    finally:
        await first.close()
        await second.close()


async def test_bad_frames_get_an_error_frame_and_the_stream_goes_on_serving(settings) -> None:
    (alice,) = await rest(make_users)(1)
    socket = await StreamClient.open(alice)
    try:
        await socket.wait_for(lambda f: f.get("connected") is True)
        bad = [
            "not json",
            "[1, 2]",
            '{"typing": ' * 100 + "1" + "}" * 100,  # too deep
            "[" * 2000 + "]" * 2000,  # deep enough to exhaust a recursive decoder
            '{"unknown": 1}',
        ]
        for text in bad:
            await socket.communicator.send_to(text_data=text)
        await socket.communicator.send_to(bytes_data=b'{"ping": 1}')
        await socket.send({"ping": "after"})
        await socket.wait_for(lambda f: f.get("pong") == "after")
        codes = [f["error"]["code"] for f in socket.frames if "error" in f]
        assert codes == ["invalid_request_data"] * 6
        messages = [f["error"]["message"] for f in socket.frames if "error" in f]
        assert "nest" in messages[2] and "nest" in messages[3] and "Binary" in messages[5]
        assert socket.close_code is None
    finally:
        await socket.close()


async def test_a_frame_over_the_size_limit_closes_with_4009(settings) -> None:
    settings.CHAT_STREAM_MAX_FRAME_BYTES = 100
    alice, bob = await rest(make_users)(2)
    socket = await StreamClient.open(alice)
    other = await StreamClient.open(bob)
    try:
        await socket.wait_for(lambda f: f.get("connected") is True)
        await other.wait_for(lambda f: f.get("connected") is True)
        await socket.send({"ping": "x" * 100})
        error = await socket.wait_for(lambda f: "error" in f)
        assert error["error"]["code"] == "frame_too_large"
        assert await socket.wait_closed() == 4009
        await other.send({"ping": "x" * 50})  # the others are served
        await other.wait_for(lambda f: f.get("pong") == "x" * 50)
    finally:
        await socket.close()
        await other.close()
