"""Verified tokens remembered by their exact text (`TokenVerifier.remembered`): never
past the token's expiry, never for other text, and no more than `REMEMBERED_TOKENS` of
them. A provider's token is trusted no longer than its key set: test_identity_tokens.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import gateway.auth
from gateway.auth import LEEWAY, TokenVerifier, Unauthenticated, mint_token

SECRET = "local-secret-0123456789abcdef0123456789abcdef"


def token(subject: str = "amy", ttl: timedelta = timedelta(minutes=1)) -> str:
    return mint_token(SECRET, subject=subject, role="sales", ttl=ttl)


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    verifier = TokenVerifier(SECRET)
    presented = token()
    assert verifier.remembered(presented) is None
    principal = verifier.verify(presented)
    assert verifier.remembered(presented) == principal
    past_expiry = principal.expires_at + LEEWAY + timedelta(seconds=1)
    assert verifier.remembered(presented, now=past_expiry) is None
    assert verifier.remembered(presented) is None  # dropped, not only hidden


def test_an_expired_token_is_refused_and_not_remembered() -> None:
    verifier = TokenVerifier(SECRET)
    issued = datetime.now(UTC) - timedelta(hours=1)
    expired = mint_token(SECRET, subject="amy", role="sales", ttl=timedelta(minutes=5), now=issued)
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(expired)
    assert caught.value.code == "TOKEN_EXPIRED"
    assert verifier.remembered(expired) is None


def test_only_the_exact_text_is_remembered() -> None:
    verifier = TokenVerifier(SECRET)
    presented = token()
    verifier.verify(presented)
    head, payload, signature = presented.split(".")
    forged = ".".join(
        [head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)
    assert verifier.remembered(forged) is None
    other_secret = mint_token(
        "another-secret-0123456789abcdef0123456789", subject="amy", role="admin"
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(other_secret)


def test_the_memory_keeps_the_most_recent_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway.auth, "REMEMBERED_TOKENS", 3)
    verifier = TokenVerifier(SECRET)
    first, second, third, fourth = (token(f"user-{n}") for n in range(4))
    for presented in (first, second, third):
        verifier.verify(presented)
    assert verifier.remembered(first) is not None  # used again: now the most recent
    verifier.verify(fourth)
    assert verifier.remembered(second) is None
    assert all(verifier.remembered(t) is not None for t in (first, third, fourth))
