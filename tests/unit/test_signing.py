"""Envelope signatures and the intake's screening, without servers."""

from __future__ import annotations

import pytest

from commands.crypto import generate_master_key, parse_master_key
from streams.intake import Rejected, screen
from streams.parking import RawMessage
from streams.signing import SIGNATURE_HEADER, sign, signature_problem, signed_headers, signing_key

MASTER = generate_master_key()
KEY = signing_key(MASTER)


def message(value: bytes, key: bytes = b"k", signer: bytes | None = KEY) -> RawMessage:
    headers = tuple(signed_headers(signer, key, value)) if signer is not None else ()
    return RawMessage("t", 0, 7, key, value, headers)


def test_the_signing_key_is_derived_not_the_master_key() -> None:
    assert parse_master_key(MASTER) != KEY and len(KEY) == 32
    assert signing_key(MASTER) == KEY  # stable: the relay and the workers agree


def test_a_good_signature_passes_in_either_header_shape() -> None:
    signature = sign(KEY, b"k", b"v")
    assert signature_problem(KEY, [(SIGNATURE_HEADER, signature)], b"k", b"v") is None
    assert signature_problem(KEY, {SIGNATURE_HEADER: signature}, b"k", b"v") is None


@pytest.mark.parametrize(
    ("headers", "key", "value", "reason"),
    [
        ([], b"k", b"v", "missing signature"),
        ([(SIGNATURE_HEADER, sign(KEY, b"k", b"v"))], b"k", b"w", "bad signature"),
        ([(SIGNATURE_HEADER, sign(KEY, b"k", b"v"))], b"kv", b"", "bad signature"),
        (
            [(SIGNATURE_HEADER, sign(signing_key(generate_master_key()), b"k", b"v"))],
            b"k",
            b"v",
            "bad signature",
        ),
    ],
    ids=["unsigned", "value-changed", "boundary-moved", "foreign-key"],
)
def test_a_message_that_is_not_the_relays_is_refused(
    headers: list[tuple[str, bytes]], key: bytes, value: bytes, reason: str
) -> None:
    problem = signature_problem(KEY, headers, key, value)
    assert problem is not None and problem.startswith(reason)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not JSON: "),
        (b"\xff\xfe", "not JSON: "),
        (b"[1, 2]", "invalid envelope: a JSON list"),
        (b'{"type": "crm.x.v9", "position": 1000000000000000}', "invalid envelope: unknown event"),
        (b'{"type": "crm.customer.registered.v1"}', "invalid envelope: "),
    ],
)
def test_screen_names_the_rule_a_signed_message_breaks(value: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as refused:
        screen(message(value), KEY)
    assert refused.value.reason.startswith(reason)


def test_screen_checks_the_signature_before_parsing() -> None:
    with pytest.raises(Rejected) as refused:
        screen(message(b"{not json", signer=None), KEY)
    assert refused.value.reason.startswith("missing signature")
