"""Room encryption compatible with the original clients (SPEC.md §6).

`encryption_data` = base64(hex(AES-256-CBC/PKCS7(JSON {"key": hex, "iv": hex}, master key, master IV))).
Message `content` = base64(AES-256-CBC/PKCS7(plaintext, room key, room IV)).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings

from kernel.errors import InvalidCiphertext

_BLOCK_BITS = 128


@dataclass(frozen=True)
class RoomKey:
    key: bytes  # 32 bytes
    iv: bytes  # 16 bytes


def _aes_encrypt(plaintext: bytes, key: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(_BLOCK_BITS).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _aes_decrypt(ciphertext: bytes, key: bytes, iv: bytes) -> bytes:
    """Raises ValueError on a wrong length or bad padding."""
    if not ciphertext or len(ciphertext) % 16:
        raise ValueError("ciphertext length is not a positive multiple of the block size")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def room_key_generate() -> RoomKey:
    """A fresh room key (scrypt N=16384, r=8, p=1 over random input and a random 32-byte salt)."""
    kdf = Scrypt(salt=os.urandom(32), length=32, n=16384, r=8, p=1)
    return RoomKey(key=kdf.derive(os.urandom(32)), iv=os.urandom(16))


def encryption_data_wrap(room_key: RoomKey) -> str:
    """Wraps a room key with the master key, as `encryption_data`."""
    document = json.dumps({"key": room_key.key.hex(), "iv": room_key.iv.hex()}).encode()
    sealed = _aes_encrypt(document, settings.CHAT_MASTER_KEY, settings.CHAT_MASTER_IV)
    return base64.b64encode(sealed.hex().encode()).decode()


def encryption_data_unwrap(encryption_data: str) -> RoomKey:
    """The room key inside `encryption_data`. Raises ValueError if it is not valid."""
    try:
        sealed = binascii.unhexlify(base64.b64decode(encryption_data, validate=True))
        document = json.loads(_aes_decrypt(sealed, settings.CHAT_MASTER_KEY, settings.CHAT_MASTER_IV))
        return RoomKey(key=bytes.fromhex(document["key"]), iv=bytes.fromhex(document["iv"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid encryption_data: {exc}") from exc


def encryption_data_generate() -> str:
    return encryption_data_wrap(room_key_generate())


def content_encrypt(plaintext: str, room_key: RoomKey) -> str:
    return base64.b64encode(_aes_encrypt(plaintext.encode(), room_key.key, room_key.iv)).decode()


def content_decrypt(content: str, room_key: RoomKey) -> str:
    """The plain text of `content`. Raises InvalidCiphertext if the room key cannot decrypt it."""
    try:
        return _aes_decrypt(base64.b64decode(content, validate=True), room_key.key, room_key.iv).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCiphertext(details={"content": [str(exc) or "undecryptable"]}) from exc
