"""Authenticated Kafka messages: only the relay's messages are applied.

The relay adds a header ``crm-sig``: the hex HMAC-SHA256 of the message key and value,
keyed by a key derived from the platform's master key (HKDF, label
``crm/stream-signing/v1``; never the raw master key). Workers verify it with
`hmac.compare_digest` before they parse anything; a message without a valid signature
(a foreign producer, a forged position, a tampered value) is parked, never applied.

The MAC input is ``len(key) as 8 bytes big-endian || key || value``: the length prefix
keeps the key/value boundary fixed, so bytes cannot move from the key into the value
under the same signature. Tests and the fault suite sign and forge with these helpers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from functools import lru_cache

from commands.crypto import derive_stream_signing_key, parse_master_key

SIGNATURE_HEADER = "crm-sig"

Headers = Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None


def signing_key(master_key: str | bytes) -> bytes:
    """The signing key of the platform whose master key (base64 setting or raw) is given."""
    return derive_stream_signing_key(parse_master_key(master_key))


@lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    """HMAC state after the key: copying it per message skips the key set-up (two hash
    blocks and the Python constructor of `hmac.HMAC`) on the relay's hot path."""
    return hmac.new(key, digestmod=hashlib.sha256)


def sign(key: bytes, message_key: bytes | None, value: bytes) -> bytes:
    """The ``crm-sig`` header value (hex ASCII) for one message."""
    message_key = message_key or b""
    mac = _keyed(key).copy()
    mac.update(len(message_key).to_bytes(8, "big"))
    mac.update(message_key)
    mac.update(value)
    return mac.hexdigest().encode("ascii")


def signed_headers(key: bytes, message_key: bytes | None, value: bytes) -> list[tuple[str, bytes]]:
    """Kafka headers for a producer's `send`: just the signature."""
    return [(SIGNATURE_HEADER, sign(key, message_key, value))]


def header_value(headers: Headers, name: str) -> bytes | None:
    """One header's value whichever shape the client gives (mapping or list of pairs)."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for header, value in pairs:
        if header == name:
            return bytes(value) if value is not None else None
    return None


def signature_problem(
    key: bytes, headers: Headers, message_key: bytes | None, value: bytes
) -> str | None:
    """Why the message is not the relay's (None when its signature is good)."""
    given = header_value(headers, SIGNATURE_HEADER)
    if given is None:
        return f"missing signature: no {SIGNATURE_HEADER!r} header (not sent by the relay)"
    if not hmac.compare_digest(given, sign(key, message_key, value)):
        return f"bad signature: {SIGNATURE_HEADER!r} does not match key and value"
    return None
