"""Errors the API returns on purpose, each with a stable `extensions.code`.

Codes of the contract: VALIDATION, RULE, CONFLICT, NOT_FOUND (from the domain, see
`aggregates.errors`) and FORBIDDEN (the role matrix); every refusal of bad input or a
broken rule is one of them (a key used for another command is CONFLICT on
``idempotencyKey``, see `commands.idempotency`). Beyond the contract's five, for what is
neither bad input nor a rule, the gateway adds TIMEOUT (the read
models did not reach `atLeast` in time), UNAUTHENTICATED (an expired token on a live
subscription), UNAVAILABLE (live events cannot be served), CORRUPTED (a value in the
event store no longer reads: the answer carries everything else, that value as null,
and the error names its `position` and `field`; see `gateway.reported`) and, for errors in the
request itself, GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED and QUERY_TOO_COMPLEX
(over the depth, alias, token or cost limits). Anything else is
a bug or an outage: its message is masked ("Unexpected error.", code INTERNAL) and
the original is logged.

`extensions.field` names the one input at fault, spelled as in the GraphQL input
(``email``, ``lines[0].quantity``), when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from graphql import GraphQLError, GraphQLSyntaxError

from aggregates.errors import DomainError

VALIDATION = "VALIDATION"
RULE = "RULE"
CONFLICT = "CONFLICT"
NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
TIMEOUT = "TIMEOUT"
UNAUTHENTICATED = "UNAUTHENTICATED"
UNAVAILABLE = "UNAVAILABLE"
CORRUPTED = "CORRUPTED"
INTERNAL = "INTERNAL"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

MASKED_MESSAGE = "Unexpected error."


class GatewayError(Exception):
    """An error meant for the client: message, code, and optionally the input at fault."""

    def __init__(self, message: str, code: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": code}
        if field is not None:
            self.extensions["field"] = field
        self.extensions.update(extra)

    @property
    def code(self) -> str:
        return str(self.extensions["code"])


def invalid(message: str, field: str | None = None) -> GatewayError:
    return GatewayError(message, VALIDATION, field)


def forbidden(what: str, role: str) -> GatewayError:
    return GatewayError(f"the {role} role may not {what}", FORBIDDEN)


def from_domain(error: DomainError) -> GatewayError:
    """A refusal of the write side, with its code and field as the domain gave them."""
    return GatewayError(error.message, error.code, error.field)


T = TypeVar("T")


def domain_errors_as_graphql(call: Callable[[], T]) -> T:
    """Run `call`; a `DomainError` (or a bad value in a conversion) becomes a GatewayError."""
    try:
        return call()
    except DomainError as error:
        raise from_domain(error) from error


def should_mask(error: GraphQLError) -> bool:
    """Whether to hide the message: anything not ours, nor GraphQL's own request errors.

    Request errors (no path) may wrap the ValueError a scalar raised on a bad value:
    those messages are written for clients and stay.
    """
    original = error.original_error
    if original is None or isinstance(original, GatewayError | GraphQLError):
        return False
    return error.path is not None or not isinstance(original, ValueError | TypeError)


_TOO_COMPLEX_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found. Allowed",
    "Document contains more than",
    "Maximum introspection depth exceeded",
)


_VARIABLE_PATH = re.compile(r"^Variable '\$(\w+)' has invalid value(?: at ([\w.\[\]]+))?: ")
_MISSING_FIELD = re.compile(r"to include required field '(\w+)'")
"""graphql-core 3.3's words: ``Variable '$i' has invalid value at .lines[0].sku: …`` and
``… Expected value of type 'L' to include required field 'sku', found: …``."""


def input_field(path: str) -> str:
    """The field a client's form shows for a path into the variables: ``i.lines[0].sku``
    is ``lines[0].sku``, as the commands name it (the variable's own name says nothing of
    the input's fields); a bare variable (``id``, ``first``) is its own name."""
    variable = re.match(r"\$?\w+", path)
    if variable is None or variable.end() == len(path):
        return path.lstrip("$")
    return path[variable.end() :].lstrip(".")


def _variable_field(message: str) -> str:
    """The input field a graphql-core variable error is about (see `input_field`)."""
    found = _VARIABLE_PATH.match(message)
    if found is None:
        return message.split("'")[1].lstrip("$")
    path = found.group(1) + (found.group(2) or "")
    missing = _MISSING_FIELD.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}"
    return input_field(path)


def classify(error: GraphQLError) -> GraphQLError:
    """Give an error without a code the code of its kind (see the module docstring)."""
    extensions = dict(error.extensions or {})
    if "code" in extensions:
        return error
    if any(marker in error.message for marker in _TOO_COMPLEX_MARKERS):
        extensions["code"] = TOO_COMPLEX
    elif isinstance(error, GraphQLSyntaxError) or isinstance(
        error.original_error, GraphQLSyntaxError
    ):
        extensions["code"] = PARSE_FAILED
    elif error.path is None and error.message.startswith("Variable '$"):
        extensions["code"] = VALIDATION
        extensions["field"] = _variable_field(error.message)
    elif error.path is None and error.message.startswith("Expected value of type"):
        extensions["code"] = VALIDATION
    elif error.path is None:
        extensions["code"] = VALIDATION_FAILED
    else:
        extensions["code"] = INTERNAL
    error.extensions = extensions
    return error
