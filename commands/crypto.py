"""Cryptographic primitives of the store: per-customer data keys and email digests.

Why per-customer keys: the right to erasure must reach the event store itself, whose
events never change. Personal fields are therefore stored encrypted under a key of
their own customer; destroying that one key (a row in ``crm_customer_keys``) makes
every copy of the data unreadable at once, in events, snapshots and backups alike.

- Data keys are AES-256-GCM keys generated in Python at registration.
- They are stored *wrapped* (AES-GCM under the deployment's master key), bound to their
  customer by the associated data, so a key row copied onto another customer fails.
- Each personal field is sealed separately: nonce random (96 bits, never reused under a
  key by construction), associated data = customer id + field name, so a ciphertext
  moved to another field or customer does not decrypt.
- Emails are reserved by HMAC-SHA256 digest under a server secret, so the reservation
  table can enforce uniqueness without holding a plaintext address (and without being
  a dictionary-attackable plain hash).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_SIZE = 12
DATA_KEY_SIZE = 32
_EMAIL_SECRET_INFO = b"crm/email-reservation/v1"
_STREAM_SIGNING_INFO = b"crm/stream-signing/v1"


class KeyDestroyed(Exception):
    """The customer's key no longer exists (forgotten): nothing new can be sealed for it."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"the key of customer {customer_id} was destroyed")
        self.customer_id = customer_id


class UnreadableCiphertext(Exception):
    """A sealed value did not authenticate: wrong key, wrong field, or tampered bytes."""


def generate_master_key() -> str:
    """A new base64 master key (AES-256), for settings and tests."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def parse_master_key(value: str | bytes) -> bytes:
    """Raw key bytes: a `str` is the base64 setting, `bytes` are the raw key itself."""
    if isinstance(value, bytes):
        raw = value
    else:
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("master_key must be base64") from error
    if len(raw) not in (16, 24, 32):
        raise ValueError("master_key must be 16, 24 or 32 bytes (base64-decoded)")
    return raw


def derive_email_secret(master_key: bytes) -> bytes:
    """The HMAC secret for email digests, derived so one secret is enough to deploy.

    HKDF keeps it independent of the wrapping key: knowing one reveals nothing of the other.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_EMAIL_SECRET_INFO)
    return hkdf.derive(master_key)


def derive_stream_signing_key(master_key: bytes) -> bytes:
    """The HMAC key the relay signs Kafka messages with (`streams.signing`), derived like
    the email secret: a leaked signing key reveals nothing of the key that wraps data keys."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_STREAM_SIGNING_INFO)
    return hkdf.derive(master_key)


def email_digest(secret: bytes, email: str) -> bytes:
    """HMAC-SHA256 of the normalised address: the reservation key for uniqueness."""
    normalised = email.strip().lower().encode("utf-8")
    return hmac.new(secret, normalised, hashlib.sha256).digest()


class OsRandom:
    """Random bytes from the OS, drawn `BLOCK` bytes at a time.

    `os.urandom` is a system call that lets go of the GIL: in the gateway each sealed
    field handed it to the event loop's thread, and the group committer waited for its
    turn back (py-spy: 7% of the committer's samples on that line). Still the OS's
    random bytes; a block is never used by two processes: a forked child drops the
    parent's copy (at fork, and by the pid on every draw for a fork that skips the hooks).
    """

    BLOCK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._block = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # A new lock too: a thread of the parent may have held this one at the fork.
        self._lock = threading.Lock()
        self._pid, self._block, self._at = -1, b"", 0

    def take(self, size: int) -> bytes:
        if size > self.BLOCK:
            return os.urandom(size)
        with self._lock:
            if self._at + size > len(self._block) or self._pid != os.getpid():
                self._block = os.urandom(self.BLOCK)
                self._pid, self._at = os.getpid(), 0
            drawn = self._block[self._at : self._at + size]
            self._at += size
            return drawn


_random = OsRandom()


def random_uuid() -> UUID:
    """A version 4 UUID from the OS's random bytes, like `uuid4()`, without a system call
    each (`OsRandom`): new customers', orders', tasks' ids in the committer's thread."""
    return UUID(bytes=_random.take(16), version=4)


def seal(cipher: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext-with-tag."""
    nonce = _random.take(NONCE_SIZE)
    return nonce + cipher.encrypt(nonce, plaintext, aad)


def open_sealed(cipher: AESGCM, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of `seal`; `UnreadableCiphertext` if it does not authenticate."""
    try:
        return cipher.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
    except (InvalidTag, ValueError) as error:
        raise UnreadableCiphertext(str(error) or "authentication failed") from error


def field_aad(customer_id: UUID, field: str) -> bytes:
    """Associated data of a personal field: binds the ciphertext to customer and field."""
    return customer_id.bytes + b":" + field.encode("utf-8")


class MasterKey:
    """Wraps and unwraps data keys; the only holder of the master key bytes."""

    def __init__(self, key: str | bytes) -> None:
        self._cipher = AESGCM(parse_master_key(key))

    def new_data_key(self, customer_id: UUID) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (what ``crm_customer_keys`` stores)."""
        key = _random.take(DATA_KEY_SIZE)  # AESGCM.generate_key: os.urandom of this size
        return key, self.wrap(customer_id, key)

    def wrap(self, customer_id: UUID, key: bytes) -> bytes:
        return seal(self._cipher, key, b"crm-data-key:" + customer_id.bytes)

    def unwrap(self, customer_id: UUID, wrapped: bytes) -> bytes:
        return open_sealed(self._cipher, wrapped, b"crm-data-key:" + customer_id.bytes)
