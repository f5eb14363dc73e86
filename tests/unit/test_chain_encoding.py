"""The chain's link encoding and the signed checkpoint file, without servers."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from commands.chain import GENESIS, MetaFields, link_body, link_hash
from commands.crypto import generate_master_key
from compliance.checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    checkpoint_key,
    compare,
    load_checkpoint,
    write_checkpoint,
)

STREAM = uuid4().bytes
META = MetaFields("alice", uuid4().bytes, None, "RegisterCustomer", 1_700_000_000_123_456)


def body(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "position": 7,
        "stream_id": STREAM,
        "version": 3,
        "topic": "events.customer:CustomerTagged",
        "state": b'{"tags":["vip"]}',
        "meta": META,
    }
    fields.update(changes)
    return link_body(**fields)  # type: ignore[arg-type]


def test_every_chained_field_changes_the_body() -> None:
    base = body()
    variants = [
        body(position=8),
        body(stream_id=uuid4().bytes),
        body(version=4),
        body(topic="events.customer:CustomerUntagged"),
        body(state=b'{"tags":["vp"]}'),
        body(meta=None),
        body(meta=MetaFields("mallory", META.correlation_id, None, META.command, 1)),
        body(meta=MetaFields("alice", META.correlation_id, uuid4().bytes, META.command, 1)),
        body(meta=MetaFields("alice", None, None, META.command, META.recorded_micros)),
        body(meta=MetaFields("alice", META.correlation_id, None, None, META.recorded_micros)),
        body(meta=MetaFields("alice", META.correlation_id, None, META.command, 1)),
    ]
    assert all(v != base for v in variants)
    assert len(set(variants)) == len(variants)


def test_length_prefixes_keep_field_boundaries_unambiguous() -> None:
    # Moving bytes from the topic into the state must not give the same body.
    assert body(topic="ab", state=b"c") != body(topic="a", state=b"bc")
    none_vs_empty = [
        MetaFields(None, None, None, None, 0),
        MetaFields("", None, None, None, 0),
    ]
    assert body(meta=none_vs_empty[0]) != body(meta=none_vs_empty[1])


def test_hash_chains_on_the_previous_hash() -> None:
    first = link_hash(GENESIS, body())
    assert len(first) == 32
    assert link_hash(first, body()) != first
    assert link_hash(GENESIS, body()) == first


def test_checkpoint_round_trip_and_forgery(tmp_path: Path) -> None:
    key = checkpoint_key(generate_master_key())
    path = tmp_path / "audit" / "chain-checkpoint.json"
    assert load_checkpoint(path, key) is None
    anchor = Checkpoint.now("postgres:1/crm", 42, bytes(range(32)), 42)
    write_checkpoint(path, anchor, key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_checkpoint(path, key) == anchor
    assert compare(anchor, bytes(range(32))) is None
    assert "differs" in (compare(anchor, bytes(32)) or "")
    assert "no link" in (compare(anchor, None) or "")

    with pytest.raises(CheckpointInvalid, match="signature"):
        load_checkpoint(path, checkpoint_key(generate_master_key()))
    document = json.loads(path.read_text())
    document["position"] = 41  # moving the anchor back needs the key
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointInvalid, match="signature"):
        load_checkpoint(path, key)
    path.write_text("not json")
    with pytest.raises(CheckpointInvalid, match="unreadable"):
        load_checkpoint(path, key)
