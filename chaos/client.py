"""GraphQL over HTTP for the fault suite: every write carries an idempotency key and is
retried with that same key until the platform accepts it (the at-least-once client a
real front end is)."""

from __future__ import annotations

import time
from typing import Any

import httpx

RULE_CODES = frozenset({"VALIDATION", "RULE", "CONFLICT", "NOT_FOUND", "FORBIDDEN"})


class Refused(RuntimeError):
    """The platform answered and refused the write: a bug in the suite, never retried."""


class Api:
    def __init__(self, graphql_url: str, token: str, *, request_timeout: float = 10.0) -> None:
        self.url = graphql_url
        self.http = httpx.Client(
            timeout=request_timeout, headers={"Authorization": f"Bearer {token}"}
        )

    def close(self) -> None:
        self.http.close()

    def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """The `data` of one attempt; None when it failed in a way worth retrying."""
        try:
            response = self.http.post(self.url, json={"query": query, "variables": variables})
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        errors = body.get("errors") or []
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        if codes & RULE_CODES:
            raise Refused(f"{codes & RULE_CODES}: {errors}")
        return None if errors else dict(body["data"])

    def write(
        self, query: str, variables: dict[str, Any], *, deadline_s: float = 120.0
    ) -> tuple[dict[str, Any], int]:
        """(data, attempts): retried with the same variables (so the same key) until accepted."""
        give_up = time.monotonic() + deadline_s
        attempts = 0
        while True:
            attempts += 1
            data = self.call(query, variables)
            if data is not None:
                return data, attempts
            if time.monotonic() > give_up:
                raise TimeoutError(f"write not accepted in {deadline_s:.0f}s: {variables}")
            time.sleep(0.2)


REGISTER = """mutation($input: RegisterCustomerInput!) {
  registerCustomer(input: $input) { position customer { id } } }"""
PURCHASE = """mutation($input: RecordPurchaseInput!) {
  recordPurchase(input: $input) { position } }"""
READ = """query($id: ID!, $at: Int) { customer(id: $id, atLeast: $at) { id } }"""
