"""GraphQL over HTTP: authentication (401), media types, status codes, GraphiQL, limits,
production mode and masked internal errors, through HTTP against the app in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from gateway.auth import mint_token
from gateway.http import GRAPHQL_RESPONSE
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PING = "{ tierDistribution { tier count } }"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def prod(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, production=True)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- authentication ----------------------------------------------------------------------


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(gw: GatewayHarness) -> None:
    response = await gw.post(PING, role=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not.a.jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Token abc",
    ],
)
async def test_a_malformed_token_is_401(gw: GatewayHarness, header: str) -> None:
    response = await gw.post(PING, role=None, headers={"Authorization": header})
    assert response.status_code == 401


async def test_forged_expired_and_roleless_tokens_are_401(gw: GatewayHarness) -> None:
    forged = mint_token("another-secret-" + "x" * 32, subject="mallory", role="admin")
    expired = gw.token("admin", ttl=timedelta(seconds=-60))
    import jwt

    no_role = jwt.encode({"sub": "x", "exp": 4102444800}, gw.secret, algorithm="HS256")
    bad_role = jwt.encode({"sub": "x", "role": "root", "exp": 4102444800}, gw.secret, "HS256")
    no_exp = jwt.encode({"sub": "x", "role": "admin"}, gw.secret, algorithm="HS256")
    none_alg = jwt.encode({"sub": "x", "role": "admin", "exp": 4102444800}, None, "none")
    for token, why in [
        (forged, "signature"),
        (expired, "expired"),
        (no_role, "role"),
        (bad_role, "role"),
        (no_exp, "exp"),
        (none_alg, "alg"),
    ]:
        response = await gw.post(PING, role=None, headers=bearer(token))
        assert response.status_code == 401, why
        assert error_codes(response.json()) == ["UNAUTHENTICATED"], why


async def test_a_valid_token_of_each_role_gets_in(gw: GatewayHarness) -> None:
    for role in ("admin", "sales", "support", "analyst", "compliance"):
        response = await gw.post("{ __typename }", role=role)
        assert response.status_code == 200, role
        assert response.json() == {"data": {"__typename": "Query"}}


# -- GraphiQL ---------------------------------------------------------------------------


async def test_a_browser_gets_graphiql_without_a_token(gw: GatewayHarness) -> None:
    response = await gw.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "graphiql" in page.lower() and 'id="token"' in page
    assert "sessionStorage" in page and "Authorization" in page


async def test_production_mode_serves_no_graphiql_and_no_introspection(
    prod: GatewayHarness,
) -> None:
    page = await prod.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 406
    assert not page.headers["content-type"].startswith("text/html")
    result = await prod.gql("{ __schema { types { name } } }")
    assert "data" not in result or result.get("data") is None
    assert result["errors"]
    assert (await prod.data(PING))["tierDistribution"]


# -- methods, media types, status codes ----------------------------------------------------


async def test_a_query_over_get(gw: GatewayHarness) -> None:
    response = await gw.client.get(
        "/graphql", params={"query": PING}, headers={**gw.headers(), "Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert len(response.json()["data"]["tierDistribution"]) == 4


async def test_a_mutation_over_get_is_405(gw: GatewayHarness) -> None:
    response = await gw.client.get(
        "/graphql",
        params={
            "query": 'mutation { forgetCustomer(input: {customerId: "x", reason: "r"}) '
            "{ position } }"
        },
        headers=gw.headers(),
    )
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


async def test_other_methods_are_405(gw: GatewayHarness) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await gw.client.request(method, "/graphql", headers=gw.headers())
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"


async def test_malformed_json_is_400(gw: GatewayHarness) -> None:
    for body in (b"{not json", b"", b'"a string"', b"[]", b'{"query": 5}', b'{"variables": 1}'):
        response = await gw.client.post(
            "/graphql",
            content=body,
            headers={**gw.headers(), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, body


async def test_a_missing_query_is_400(gw: GatewayHarness) -> None:
    response = await gw.client.post("/graphql", json={"variables": {}}, headers=gw.headers())
    assert response.status_code == 400
    get = await gw.client.get("/graphql", headers=gw.headers())
    assert get.status_code == 400


async def test_a_body_that_is_not_json_is_415(gw: GatewayHarness) -> None:
    response = await gw.client.post(
        "/graphql", content=PING, headers={**gw.headers(), "Content-Type": "text/plain"}
    )
    assert response.status_code == 415


async def test_unacceptable_accept_is_406(gw: GatewayHarness) -> None:
    response = await gw.client.post(
        "/graphql", json={"query": PING}, headers={**gw.headers(), "Accept": "text/csv"}
    )
    assert response.status_code == 406


async def test_request_errors_are_400_with_the_graphql_response_media_type(
    gw: GatewayHarness,
) -> None:
    for query in (
        "{ nope }",
        "{ tierDistribution ",
        "query($n: Int!) { customers(first: $n) { totalCount } }",
    ):
        response = await gw.client.post(
            "/graphql",
            json={"query": query, "variables": {"n": "ten"}},
            headers={**gw.headers(), "Accept": GRAPHQL_RESPONSE},
        )
        assert response.status_code == 400, query
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        body = response.json()
        assert "data" not in body and body["errors"]


async def test_request_errors_are_200_with_application_json(gw: GatewayHarness) -> None:
    response = await gw.client.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={**gw.headers(), "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    syntax = await gw.gql("{ tierDistribution ")
    assert error_codes(syntax) == ["GRAPHQL_PARSE_FAILED"]


async def test_field_errors_keep_data_and_status_200(gw: GatewayHarness) -> None:
    response = await gw.client.post(
        "/graphql",
        json={"query": '{ customer(id: "not-a-uuid") { id } }'},
        headers={**gw.headers(), "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"customer": None}
    assert first_error(body)["extensions"] == {"code": "VALIDATION", "field": "id"}


async def test_a_subscription_over_http_is_400(gw: GatewayHarness) -> None:
    response = await gw.post("subscription { customerEvents { position } }")
    assert response.status_code == 400


async def test_batches_are_refused(gw: GatewayHarness) -> None:
    response = await gw.client.post(
        "/graphql",
        content=json.dumps([{"query": PING}]),
        headers={**gw.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400


# -- limits ------------------------------------------------------------------------------


async def test_deep_queries_are_refused(gw: GatewayHarness) -> None:
    deep = "{ customers { edges { node { complaints { id } } } } }"
    assert "errors" not in await gw.gql(deep)
    cyclic = "{ __schema { types { fields { type " + "{ fields { type " * 8 + "{ name }"
    nested = cyclic + " } }" * 8 + " } } } }"
    assert error_codes(await gw.gql(nested)) == ["QUERY_TOO_COMPLEX"]


async def test_many_aliases_are_refused(gw: GatewayHarness) -> None:
    query = "{ " + " ".join(f"a{i}: tierDistribution {{ count }}" for i in range(40)) + " }"
    assert error_codes(await gw.gql(query)) == ["QUERY_TOO_COMPLEX"]


async def test_costly_queries_are_refused(gw: GatewayHarness) -> None:
    page = "customers(first: 100) { edges { node { id complaints { id } } } }"
    assert "errors" not in await gw.gql("{ " + page + " }")
    query = "{ " + " ".join(f"p{i}: {page}" for i in range(5)) + " }"
    result = await gw.gql(query)
    assert error_codes(result) == ["QUERY_TOO_COMPLEX"]
    assert first_error(result)["extensions"]["cost"] > 5000
    variable = (
        "query($n: Int) { "
        + " ".join(
            f"p{i}: customers(first: $n) {{ edges {{ node {{ complaints {{ id }} }} }} }}"
            for i in range(5)
        )
        + " }"
    )
    assert error_codes(await gw.gql(variable, {"n": 1})) == ["QUERY_TOO_COMPLEX"]


async def test_huge_documents_are_refused(gw: GatewayHarness) -> None:
    query = "{ " + "__typename " * 6000 + "}"
    result = await gw.gql(query)
    assert error_codes(result) == ["QUERY_TOO_COMPLEX"], first_error(result)["message"]


async def test_page_size_is_capped(gw: GatewayHarness) -> None:
    result = await gw.gql("{ customers(first: 101) { totalCount } }")
    assert first_error(result)["extensions"] == {"code": "VALIDATION", "field": "first"}
    negative = await gw.gql("{ customers(first: -1) { totalCount } }")
    assert first_error(negative)["extensions"]["field"] == "first"


async def test_nul_characters_are_a_validation_error(gw: GatewayHarness) -> None:
    result = await gw.gql(
        "query($t: String) { customers(filter: {tag: $t}) { totalCount } }", {"t": "a\x00b"}
    )
    assert first_error(result)["extensions"] == {"code": "VALIDATION", "field": "t"}
    literal = await gw.gql('{ customers(filter: {region: "a\\u0000"}) { totalCount } }')
    assert error_codes(literal) == ["VALIDATION"]


# -- masking -----------------------------------------------------------------------------


async def test_unexpected_errors_are_masked(
    gw: GatewayHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.schema.query as query_module

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("password=hunter2 at db01")

    monkeypatch.setattr(query_module, "funnel", broken)
    response = await gw.post("{ funnel { stages { stage } } }")
    assert response.status_code == 200
    body = response.json()
    assert "hunter2" not in response.text
    assert first_error(body)["message"] == "Unexpected error."
    assert error_codes(body) == ["INTERNAL"]
