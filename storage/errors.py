"""Errors that storage raises (never HTTP-level ones: services turn them into application errors)."""

from __future__ import annotations


class StorageError(Exception):
    """Base of the refusals a repository reports to its caller."""


class P2PRoomExistsError(StorageError):
    """room_insert: a live p2p room of the same two users exists (Room.p2p_key is taken)."""


class SenderMessageIdBusyError(StorageError):
    """message_create: another unit of work holds the (sender, sender_message_id) claim and has not
    finished storing its message in time; the caller may retry."""
