"""Tokens of an identity provider beside local ones: a JWKS served by a tiny HTTP server
on 127.0.0.1, tokens signed with RS256/ES256, every refusal with its code, key caching and
rotation; CORS preflights from an allowed and a refused origin."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.auth import IdentityProvider, TokenVerifier, Unauthenticated, mint_token
from gateway.roles import Role
from ops.config import load_settings_checked
from ops.errors import SettingError
from tests.support.identity_provider import (
    AUDIENCE,
    ISSUER,
    LocalProvider,
    SigningKey,
    served_provider,
)

SECRET = "local-secret-0123456789abcdef0123456789abcdef"
RSA_KEY = SigningKey.new("rsa-1")
EC_KEY = SigningKey.new("ec-1", "ES256")


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    with served_provider(RSA_KEY, EC_KEY) as served:
        yield served


def verifier_for(provider: LocalProvider, **knobs: float) -> TokenVerifier:
    idp = IdentityProvider(jwks_url=provider.url, issuer=ISSUER, audience=AUDIENCE, **knobs)
    return TokenVerifier(SECRET, idp)


def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    return caught.value.code


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_a_provider_token_is_accepted_with_its_subject_and_role(
    provider: LocalProvider, key: SigningKey
) -> None:
    principal = verifier_for(provider).verify(provider.token(key, role="support"))
    assert (principal.subject, principal.role) == ("alice@example.test", Role.SUPPORT)


def test_local_tokens_still_verify_beside_the_provider(provider: LocalProvider) -> None:
    token = mint_token(SECRET, subject="dev", role="admin")
    assert verifier_for(provider).verify(token).role is Role.ADMIN
    assert provider.fetches == 0  # a local token never asks the provider


def test_a_roles_list_with_one_known_role_is_read(provider: LocalProvider) -> None:
    token = provider.token(RSA_KEY, role=["offline_access", "analyst"])
    assert verifier_for(provider).verify(token).role is Role.ANALYST


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"issuer": "https://evil.example.test"}, "TOKEN_WRONG_ISSUER"),
        ({"audience": "another-api"}, "TOKEN_WRONG_AUDIENCE"),
        ({"now": datetime.now(UTC) - timedelta(hours=1)}, "TOKEN_EXPIRED"),
        ({"role": "god"}, "TOKEN_UNKNOWN_ROLE"),
        ({"role": ["admin", "sales"]}, "TOKEN_UNKNOWN_ROLE"),  # ambiguous: refused
        ({"subject": ""}, "TOKEN_NO_SUBJECT"),
        ({"ttl": timedelta(days=365)}, "TOKEN_TOO_LONG"),
    ],
)
def test_bad_provider_tokens_are_refused_with_a_code(
    provider: LocalProvider, claims: dict[str, object], code: str
) -> None:
    assert refusal(verifier_for(provider), provider.token(RSA_KEY, **claims)) == code  # type: ignore[arg-type]


def test_a_key_the_provider_does_not_publish_is_refused(provider: LocalProvider) -> None:
    stranger = SigningKey.new("stranger")
    assert refusal(verifier_for(provider), provider.token(stranger)) == "TOKEN_UNKNOWN_KEY"


def test_a_forged_signature_under_a_known_kid_is_refused(provider: LocalProvider) -> None:
    forger = SigningKey("rsa-1", "RS256", SigningKey.new("x").private)
    assert refusal(verifier_for(provider), provider.token(forger)) == "TOKEN_INVALID"


def test_algorithm_confusion_and_none_are_refused(provider: LocalProvider) -> None:
    """HS256 'signed' with the provider's public key (the classic confusion attack): local
    tokens are checked with our secret only, so it is refused; and `alg: none` too."""
    public_pem = RSA_KEY.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"sub": "x", "role": "admin", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800}
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    signed = ".".join(b64(json.dumps(part).encode()) for part in (header, claims))
    mac = hmac.new(public_pem, signed.encode(), hashlib.sha256).digest()
    confused = f"{signed}.{b64(mac)}"
    assert refusal(verifier_for(provider), confused) == "TOKEN_INVALID"
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert refusal(verifier_for(provider), unsigned) == "TOKEN_ALGORITHM"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_keys_are_cached_then_a_rotation_is_picked_up(provider: LocalProvider) -> None:
    verifier = verifier_for(provider, refresh_cooldown=0.0, cache_seconds=0.5)
    for _ in range(5):
        verifier.verify(provider.token(RSA_KEY))
    assert provider.fetches == 1  # cached

    rotated = SigningKey.new("rsa-2")
    provider.publish(rotated)  # the provider rotates: rsa-1 is gone, rsa-2 is new
    assert verifier.verify(provider.token(rotated)).subject == "alice@example.test"
    assert provider.fetches == 2  # the unknown kid refetched the set once

    time.sleep(0.6)  # past the cache's lifetime: the retired key is no longer trusted
    assert refusal(verifier, provider.token(RSA_KEY)) == "TOKEN_UNKNOWN_KEY"


def test_a_remembered_provider_token_is_trusted_no_longer_than_its_key_set(
    provider: LocalProvider,
) -> None:
    verifier = verifier_for(provider, cache_seconds=0.3)
    token = provider.token(RSA_KEY)
    principal = verifier.verify(token)
    assert verifier.remembered(token) == principal
    time.sleep(0.4)
    assert verifier.remembered(token) is None


def test_an_unreachable_provider_is_a_coded_refusal() -> None:
    idp = IdentityProvider(jwks_url="http://127.0.0.1:1/certs", issuer=ISSUER, audience=AUDIENCE)
    token = LocalProvider().token(RSA_KEY)
    assert refusal(TokenVerifier(SECRET, idp), token) == "TOKEN_KEYS_UNAVAILABLE"


# -- settings ---------------------------------------------------------------------------------


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_provider_comes_from_settings(isolated: pytest.MonkeyPatch) -> None:
    isolated.setenv("CRM_OIDC_JWKS_URL", "https://id.example.test/certs")
    isolated.setenv("CRM_OIDC_ISSUER", ISSUER)
    isolated.setenv("CRM_OIDC_AUDIENCE", AUDIENCE)
    isolated.setenv("CRM_OIDC_ALGORITHMS", "ES256")
    isolated.setenv("CRM_CORS_ALLOWED_ORIGINS", "https://app.example.test, http://localhost:5173")
    settings = load_settings_checked()
    assert settings.identity_provider == IdentityProvider(
        "https://id.example.test/certs", ISSUER, AUDIENCE, algorithms=("ES256",)
    )
    assert settings.cors_origins == ["https://app.example.test", "http://localhost:5173"]


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"CRM_OIDC_JWKS_URL": "https://id.example.test/certs"}, "CRM_OIDC_ISSUER"),
        ({"CRM_OIDC_JWKS_URL": "file:///etc/passwd"}, "CRM_OIDC_JWKS_URL"),
        (
            {
                "CRM_OIDC_JWKS_URL": "https://id.example.test/certs",
                "CRM_OIDC_ISSUER": ISSUER,
                "CRM_OIDC_AUDIENCE": AUDIENCE,
                "CRM_OIDC_ALGORITHMS": "HS256",
            },
            "CRM_OIDC_ALGORITHMS",
        ),
        ({"CRM_CORS_ALLOWED_ORIGINS": "app.example.test/path"}, "CRM_CORS_ALLOWED_ORIGINS"),
    ],
)
def test_identity_and_cors_settings_that_cannot_work_name_their_variable(
    isolated: pytest.MonkeyPatch, env: dict[str, str], setting: str
) -> None:
    for name, value in env.items():
        isolated.setenv(name, value)
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert caught.value.setting == setting


# -- CORS ------------------------------------------------------------------------------------


async def test_cors_preflight_from_an_allowed_and_a_refused_origin(
    isolated: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gateway.app import create_app

    isolated.setenv("CRM_DATA_DIR", str(tmp_path))
    isolated.setenv("CRM_CORS_ALLOWED_ORIGINS", "https://app.example.test")
    app = create_app(load_settings_checked())  # no deps: the middleware is the same
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        allowed = await client.options(
            "/graphql", headers={"Origin": "https://app.example.test", **preflight}
        )
        refused = await client.options(
            "/graphql", headers={"Origin": "https://evil.example.test", **preflight}
        )
        simple = await client.get("/nowhere", headers={"Origin": "https://app.example.test"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.test"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example.test"
    assert simple.headers["access-control-expose-headers"].lower() == "x-request-id"


async def test_without_configured_origins_no_cors_headers_are_sent(
    isolated: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gateway.app import create_app

    isolated.setenv("CRM_DATA_DIR", str(tmp_path))
    app = create_app(load_settings_checked())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        answer = await client.get("/nowhere", headers={"Origin": "https://app.example.test"})
    assert "access-control-allow-origin" not in answer.headers
