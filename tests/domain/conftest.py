"""The domain tests make rooms the way the room tests do (through CreateRoom's service)."""

from tests.rooms.conftest import _one_room_key, make_group, make_p2p

__all__ = ["_one_room_key", "make_group", "make_p2p"]
