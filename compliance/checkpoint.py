"""The chain head, anchored outside the database: a small signed file.

A hash chain proves that no event was edited, deleted or reordered *relative to the
chain*; someone able to rewrite the events table can also recompute every link. A copy
of the head kept elsewhere closes that gap: if the link at the anchored position still
has the anchored hash, then (SHA-256 being collision resistant) every event up to that
position is exactly what it was when the anchor was taken.

The file is HMAC-SHA256 signed with a key derived from the master key, so it cannot be
forged or moved forward by anyone without that key; it names the database it anchors.
What it cannot prove: anything recorded after the anchored position (take anchors
regularly, `crm audit verify` does), nor that the file itself was not deleted or
replaced by an older signed one (keep copies where the database's operators cannot
write, e.g. WORM storage or a ticket).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from commands.crypto import parse_master_key

FORMAT = "crm-chain-checkpoint/v1"
_INFO = b"crm/chain-checkpoint/v1"


class CheckpointInvalid(Exception):
    """The checkpoint file is malformed, or its signature does not hold."""


def checkpoint_key(master_key: str | bytes) -> bytes:
    """The signing key of checkpoints: HKDF of the master key (independent of its other uses)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(parse_master_key(master_key))


@dataclass(frozen=True)
class Checkpoint:
    """An anchored head: the link at `position` had `hash` (hex) when `written_at`."""

    database: str
    position: int
    hash: str
    chained_events: int
    written_at: str

    @classmethod
    def now(cls, database: str, position: int, head: bytes, chained_events: int) -> Checkpoint:
        return cls(database, position, head.hex(), chained_events, datetime.now(UTC).isoformat())


def _payload(checkpoint: Checkpoint) -> bytes:
    body = {"format": FORMAT, **asdict(checkpoint)}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(checkpoint: Checkpoint, key: bytes) -> str:
    return hmac.new(key, _payload(checkpoint), hashlib.sha256).hexdigest()


def write_checkpoint(path: Path, checkpoint: Checkpoint, key: bytes) -> None:
    """Atomically replace `path` with the signed checkpoint (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT, **asdict(checkpoint), "mac": sign(checkpoint, key)}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(document, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path, key: bytes) -> Checkpoint | None:
    """The checkpoint in `path` (None if there is none); `CheckpointInvalid` if forged."""
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise CheckpointInvalid(f"{path}: unreadable ({error})") from None
    if document.get("format") != FORMAT:
        raise CheckpointInvalid(f"{path}: not a {FORMAT} file")
    try:
        checkpoint = Checkpoint(
            database=str(document["database"]),
            position=int(document["position"]),
            hash=str(document["hash"]),
            chained_events=int(document["chained_events"]),
            written_at=str(document["written_at"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointInvalid(f"{path}: missing or bad field {error}") from None
    if not hmac.compare_digest(sign(checkpoint, key), str(document.get("mac", ""))):
        raise CheckpointInvalid(
            f"{path}: signature does not match (altered, or signed with another master key)"
        )
    return checkpoint


def compare(checkpoint: Checkpoint, stored_hash: bytes | None) -> str | None:
    """Why the store contradicts the anchor, or None when it agrees."""
    if stored_hash is None:
        return (
            f"anchored position {checkpoint.position} has no link any more: events were "
            "deleted from the end of the store, or the chain was rewritten"
        )
    if stored_hash.hex() != checkpoint.hash:
        return (
            f"the link at anchored position {checkpoint.position} differs from the anchor "
            f"taken {checkpoint.written_at}: the chain was rewritten"
        )
    return None
