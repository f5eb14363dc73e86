"""An identity provider's tokens through the GraphQL endpoint: a provider-signed token
writes as its subject (the event's actor), a local `crm token` still works beside it, and
a refused token is 401 with the refusal's code in `extensions.reason`; `viewer` answers
who a token is as the gateway read it (a provider's role in a `roles` list too)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from gateway.auth import IdentityProvider
from gateway.roles import Role
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet
from tests.support.identity_provider import (
    AUDIENCE,
    ISSUER,
    LocalProvider,
    SigningKey,
    served_provider,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

KEY = SigningKey.new("rsa-gw")
REGISTER = 'mutation { registerCustomer(input: {name: "Idp Customer"}) { customer { id } } }'
AUDIT = "query($id: ID!) { auditTrail(customerId: $id) { edges { node { actor } } } }"
VIEWER = "{ viewer { subject role team department expiresAt } }"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def idp(servers: ServerSet) -> AsyncIterator[tuple[GatewayHarness, LocalProvider]]:
    with served_provider(KEY) as provider:
        url = servers.new_database()
        identity = IdentityProvider(jwks_url=provider.url, issuer=ISSUER, audience=AUDIENCE)
        harness = GatewayHarness.start(url, identity=identity)
        yield harness, provider
        await harness.aclose()
        servers.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def idp_roles(servers: ServerSet) -> AsyncIterator[tuple[GatewayHarness, LocalProvider]]:
    """A provider that names its role claim `roles` and puts a list in it (as Keycloak's
    and Entra ID's app roles do)."""
    with served_provider(KEY) as provider:
        url = servers.new_database()
        identity = IdentityProvider(
            jwks_url=provider.url, issuer=ISSUER, audience=AUDIENCE, role_claim="roles"
        )
        harness = GatewayHarness.start(url, identity=identity)
        yield harness, provider
        await harness.aclose()
        servers.drop_database(url)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_provider_token_writes_as_its_subject(
    idp: tuple[GatewayHarness, LocalProvider],
) -> None:
    gw, provider = idp
    token = provider.token(KEY, subject="ida@corp.example", role="sales")
    answer = await gw.post(REGISTER, role=None, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    customer_id = answer.json()["data"]["registerCustomer"]["customer"]["id"]
    trail = await gw.post(AUDIT, {"id": customer_id}, role="admin")  # a local token
    assert trail.status_code == 200, trail.text
    actors = [e["node"]["actor"] for e in trail.json()["data"]["auditTrail"]["edges"]]
    # Registered, and owned by the rep (no rule routed the lead): both by its subject.
    assert actors == ["ida@corp.example", "ida@corp.example"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"audience": "another-api"}, "TOKEN_WRONG_AUDIENCE"),
        ({"issuer": "https://elsewhere.example"}, "TOKEN_WRONG_ISSUER"),
        ({"ttl": -__import__("datetime").timedelta(minutes=5)}, "TOKEN_EXPIRED"),
    ],
)
async def test_a_refused_provider_token_is_401_with_its_reason(
    idp: tuple[GatewayHarness, LocalProvider], claims: dict[str, object], reason: str
) -> None:
    gw, provider = idp
    token = provider.token(KEY, **claims)  # type: ignore[arg-type]
    answer = await gw.post(REGISTER, role=None, headers=bearer(token))
    assert answer.status_code == 401
    error = answer.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": reason}


async def test_an_unknown_key_is_401(idp: tuple[GatewayHarness, LocalProvider]) -> None:
    gw, provider = idp
    answer = await gw.post(REGISTER, role=None, headers=bearer(provider.token(SigningKey.new("x"))))
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["reason"] == "TOKEN_UNKNOWN_KEY"


async def test_viewer_answers_a_provider_token_whose_role_is_in_a_roles_list(
    idp_roles: tuple[GatewayHarness, LocalProvider],
) -> None:
    gw, provider = idp_roles
    issued = datetime.now(UTC).replace(microsecond=0)
    token = provider.token(
        KEY, subject="ida@corp.example", role=["compliance"], role_claim="roles", now=issued
    )
    answer = await gw.post(VIEWER, role=None, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["viewer"] == {
        "subject": "ida@corp.example",
        "role": "compliance",
        "team": None,
        "department": None,
        "expiresAt": (issued + timedelta(minutes=5)).isoformat(),
    }
    # The role under another claim than the provider's is not read: refused, not guessed.
    elsewhere = provider.token(KEY, role="compliance")
    refused = await gw.post(VIEWER, role=None, headers=bearer(elsewhere))
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["reason"] == "TOKEN_UNKNOWN_ROLE"


@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_viewer_answers_a_local_token_of_every_role(
    idp: tuple[GatewayHarness, LocalProvider], role: str
) -> None:
    gw, _ = idp
    issued = datetime.now(UTC).replace(microsecond=0)
    token = gw.token(role, "li.na", now=issued, team="North", department="Sales")
    answer = await gw.post(VIEWER, role=None, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["viewer"] == {
        "subject": "li.na",
        "role": role,
        "team": "North",
        "department": "Sales",
        "expiresAt": (issued + timedelta(hours=12)).isoformat(),
    }


async def test_viewer_without_a_token_is_401(idp: tuple[GatewayHarness, LocalProvider]) -> None:
    gw, _ = idp
    answer = await gw.post(VIEWER, role=None)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": "TOKEN_MISSING",
    }
