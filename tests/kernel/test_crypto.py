"""SPEC.md §6 encryption, checked against an independent implementation written here."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

from kernel import crypto
from kernel.errors import InvalidCiphertext


def _independent_unwrap(encryption_data: str) -> tuple[bytes, bytes]:
    sealed = bytes.fromhex(base64.b64decode(encryption_data).decode())
    dec = Cipher(algorithms.AES(settings.CHAT_MASTER_KEY), modes.CBC(settings.CHAT_MASTER_IV)).decryptor()
    padded = dec.update(sealed) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    doc = json.loads(unpadder.update(padded) + unpadder.finalize())
    return bytes.fromhex(doc["key"]), bytes.fromhex(doc["iv"])


def _independent_encrypt(text: str, key: bytes, iv: bytes) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode()


def test_encryption_data_wraps_a_32_byte_key_and_16_byte_iv() -> None:
    key, iv = _independent_unwrap(crypto.encryption_data_generate())
    assert len(key) == 32
    assert len(iv) == 16


def test_each_room_gets_a_fresh_key() -> None:
    assert _independent_unwrap(crypto.encryption_data_generate()) != _independent_unwrap(
        crypto.encryption_data_generate()
    )


def test_content_from_an_independent_client_decrypts() -> None:
    data = crypto.encryption_data_generate()
    key, iv = _independent_unwrap(data)
    content = _independent_encrypt("héllo, wörld ✓", key, iv)
    assert crypto.content_decrypt(content, crypto.encryption_data_unwrap(data)) == "héllo, wörld ✓"


def test_server_encryption_is_what_the_client_expects() -> None:
    data = crypto.encryption_data_generate()
    key, iv = _independent_unwrap(data)
    expected = _independent_encrypt("plain", key, iv)
    assert crypto.content_encrypt("plain", crypto.encryption_data_unwrap(data)) == expected


@pytest.mark.parametrize(
    "content", ["", "not base64!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 32).decode()]
)
def test_undecryptable_content_is_refused(content: str) -> None:
    room_key = crypto.encryption_data_unwrap(crypto.encryption_data_generate())
    with pytest.raises(InvalidCiphertext) as info:
        crypto.content_decrypt(content, room_key)
    assert info.value.code == "invalid_ciphertext"
    assert info.value.status_code == 400


def test_content_encrypted_with_another_room_key_is_refused() -> None:
    other_key, other_iv = _independent_unwrap(crypto.encryption_data_generate())
    content = _independent_encrypt("secret for another room", other_key, other_iv)
    room_key = crypto.encryption_data_unwrap(crypto.encryption_data_generate())
    with pytest.raises(InvalidCiphertext):
        crypto.content_decrypt(content, room_key)


def test_a_corrupt_encryption_data_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        crypto.encryption_data_unwrap("bm90IGhleA==")
