"""Tokens, the role matrix, and the pure helpers of the HTTP layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jwt
import pytest

from gateway.auth import (
    Unauthenticated,
    authenticate,
    bearer_token,
    mint_token,
    token_of_connection_params,
    verify_token,
)
from gateway.http import APPLICATION_JSON, GRAPHQL_RESPONSE, negotiate, request_shape_problem
from gateway.roles import MATRIX, ROLES, Permission, Role, allows, sees_personal
from gateway.schema.scalars import (
    parse_datetime,
    parse_decimal,
    serialize_datetime,
    serialize_decimal,
)

SECRET = "s" * 40


def test_a_minted_token_verifies_to_its_subject_and_role() -> None:
    principal = verify_token(mint_token(SECRET, subject="alice", role="sales"), SECRET)
    assert (principal.subject, principal.role) == ("alice", Role.SALES)
    assert not principal.expired()


def test_ops_tokens_verify_here() -> None:
    from ops.tokens import mint_token as ops_mint

    token = ops_mint(SECRET, role="compliance", subject="carl", ttl=timedelta(minutes=5))
    assert verify_token(token, SECRET).role is Role.COMPLIANCE


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x", "role": "admin"},
        {"role": "admin", "exp": 4102444800},
        {"sub": "", "role": "admin", "exp": 4102444800},
        {"sub": "x", "role": "god", "exp": 4102444800},
        {"sub": "x", "role": "admin", "exp": 4102444800, "iss": "elsewhere"},
        {"sub": "x", "role": "admin", "exp": 1},
    ],
)
def test_bad_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(Unauthenticated):
        verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)


def test_other_algorithms_and_secrets_are_refused() -> None:
    claims = {"sub": "x", "role": "admin", "exp": 4102444800}
    with pytest.raises(Unauthenticated):
        verify_token(jwt.encode(claims, "t" * 40, algorithm="HS256"), SECRET)
    with pytest.raises(Unauthenticated):
        verify_token(jwt.encode(claims, SECRET, algorithm="HS512"), SECRET)
    with pytest.raises(Unauthenticated):
        verify_token(jwt.encode(claims, None, algorithm="none"), SECRET)


def test_expiry_has_a_small_leeway_only() -> None:
    now = datetime.now(UTC)
    almost = mint_token(SECRET, subject="x", role="admin", ttl=timedelta(seconds=-2), now=now)
    assert verify_token(almost, SECRET)
    gone = mint_token(SECRET, subject="x", role="admin", ttl=timedelta(seconds=-30), now=now)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(gone, SECRET)


def test_bearer_headers() -> None:
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    for header in (None, "", "Basic abc", "Bearer", "Bearer   "):
        with pytest.raises(Unauthenticated):
            bearer_token(header)
    with pytest.raises(Unauthenticated):
        authenticate(None, SECRET)


def test_tokens_in_connection_init() -> None:
    assert token_of_connection_params({"Authorization": "Bearer a"}) == "Bearer a"
    assert token_of_connection_params({"authorization": "Bearer b"}) == "Bearer b"
    assert token_of_connection_params({"headers": {"Authorization": "Bearer c"}}) == "Bearer c"
    assert token_of_connection_params({"token": "d"}) == "Bearer d"
    assert token_of_connection_params({}) is None and token_of_connection_params(None) is None


def test_the_role_matrix_is_rules_md() -> None:
    assert set(ROLES) == {"admin", "sales", "support", "analyst", "compliance", "manager"}
    assert MATRIX[Role.ADMIN] == frozenset(Permission)
    # A manager may what a rep may, over the department (the scope, not the matrix), and
    # reads the organisation.
    assert MATRIX[Role.MANAGER] == MATRIX[Role.SALES] | {Permission.READ_ORGANISATION}
    organisers = {r for r in Role if allows(r, Permission.MANAGE_ORGANISATION)}
    assert organisers == {Role.ADMIN}
    assert [r for r in Role if allows(r, Permission.READ_ORGANISATION)] == [
        Role.ADMIN,
        Role.COMPLIANCE,
        Role.MANAGER,
    ]
    mutations = {p for p in Permission if p.value[0].islower() and " " not in p.value}
    sales = {p for p in mutations if allows(Role.SALES, p)}
    set_up = {Permission.DEFINE_CUSTOM_FIELD, Permission.RETIRE_CUSTOM_FIELD}
    assert [r for r in Role if set_up <= MATRIX[r]] == [Role.ADMIN]
    assert sales == mutations - {Permission.MERGE_CUSTOMERS, Permission.FORGET_CUSTOMER} - set_up
    assert {p for p in mutations if allows(Role.SUPPORT, p)} == {
        Permission.RECORD_CONTACT_TOUCH,
        Permission.ADD_NOTE,
        Permission.SCHEDULE_TASK,
        Permission.RESCHEDULE_TASK,
        Permission.COMPLETE_TASK,
        Permission.CANCEL_TASK,
        Permission.FILE_COMPLAINT,
        Permission.ESCALATE_COMPLAINT,
        Permission.ASSIGN_COMPLAINT,
        Permission.RESOLVE_COMPLAINT,
    }
    assert not {p for p in mutations if allows(Role.ANALYST, p)}
    assert {p for p in mutations if allows(Role.COMPLIANCE, p)} == {
        Permission.MERGE_CUSTOMERS,
        Permission.FORGET_CUSTOMER,
    }
    assert [r for r in Role if sees_personal(r)] == [
        Role.ADMIN,
        Role.SALES,
        Role.SUPPORT,
        Role.COMPLIANCE,
        Role.MANAGER,
    ]
    assert [r for r in Role if allows(r, Permission.READ_AUDIT)] == [Role.ADMIN, Role.COMPLIANCE]
    assert [r for r in Role if allows(r, Permission.READ_ANALYTICS)] == [
        Role.ADMIN,
        Role.ANALYST,
        Role.COMPLIANCE,
    ]
    assert [r for r in Role if allows(r, Permission.IMPORT_CUSTOMERS)] == [
        Role.ADMIN,
        Role.SALES,
        Role.MANAGER,
    ]
    assert [r for r in Role if allows(r, Permission.FIND_DUPLICATES)] == [
        Role.ADMIN,
        Role.SALES,
        Role.ANALYST,
        Role.COMPLIANCE,
        Role.MANAGER,
    ]
    for reading in (Permission.READ_TIMELINE, Permission.READ_COMPLAINT_QUEUE):
        assert [r for r in Role if allows(r, reading)] == [
            Role.ADMIN,
            Role.SALES,
            Role.SUPPORT,
            Role.COMPLIANCE,
            Role.MANAGER,
        ]


def test_media_type_negotiation() -> None:
    assert negotiate(None) == APPLICATION_JSON and negotiate("*/*") == APPLICATION_JSON
    assert negotiate(GRAPHQL_RESPONSE) == GRAPHQL_RESPONSE
    assert negotiate(f"application/json, {GRAPHQL_RESPONSE}") == GRAPHQL_RESPONSE
    assert negotiate(f"{GRAPHQL_RESPONSE};q=0.5, application/json") == APPLICATION_JSON
    assert negotiate(f"{GRAPHQL_RESPONSE};q=0") is None
    assert negotiate("text/html") is None


def test_request_shapes() -> None:
    assert request_shape_problem({"query": "{ a }"}) is None
    for body in (
        [],
        "x",
        1,
        {},
        {"query": 1},
        {"query": "q", "variables": []},
        {"query": "q", "operationName": 2},
    ):
        assert request_shape_problem(body), body


def test_scalars_are_strict() -> None:
    assert parse_datetime("2024-05-01T09:00:00+08:00").utcoffset() == timedelta(hours=8)
    assert parse_datetime("2024-05-01T09:00:00Z").tzinfo is not None
    for bad in ("2024-05-01T09:00:00", "yesterday", 5):
        with pytest.raises(ValueError):
            parse_datetime(bad)
    assert serialize_datetime(datetime(2024, 1, 1)) == "2024-01-01T00:00:00+00:00"
    assert parse_decimal("1999.00") == Decimal("1999.00") and parse_decimal(12) == Decimal(12)
    for bad in ("NaN", "Infinity", "abc", True, None, 0.1):  # a JSON float is never money
        with pytest.raises(ValueError):
            parse_decimal(bad)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (Decimal("0"), "0.00"),  # a read model's default
        (Decimal("25000.00"), "25000.00"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("12.5"), "12.50"),
        (Decimal("0.005"), "0.005"),  # more decimals than cents are kept, never rounded
        (7, "7.00"),
    ],
)
def test_money_shows_two_decimals_at_least(stored: Decimal | int, shown: str) -> None:
    assert serialize_decimal(stored) == shown
