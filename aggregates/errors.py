"""Domain errors: what a command got wrong, in terms the API can return as they are.

Every error carries a stable `code` (the gateway maps it to a GraphQL error extension)
and the `field` it is about, named as the GraphQL input is (camelCase, with indexes such
as ``lines[0].quantity`` or ``tags[2]``), so a client can point at the exact input
without parsing the message.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every refusal the domain gives; never raised for programming errors."""

    code: ClassVar[str] = "DOMAIN"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        """The shape the API layers put into error extensions."""
        return {"code": self.code, "message": self.message, "field": self.field}

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep `field` when errors cross process boundaries (pickling drops kwargs).
        return (_rebuild, (type(self), self.message, self.field))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, field={self.field!r})"


def _rebuild(cls: type[DomainError], message: str, field: str | None) -> DomainError:
    return cls(message, field=field)


class ValidationFailed(DomainError):
    """An input is malformed or out of range, whatever the aggregate's state."""

    code = "VALIDATION"


class RuleViolated(DomainError):
    """The input is well-formed but the business rules refuse it in the current state."""

    code = "RULE"


class Conflict(DomainError):
    """The command clashes with another aggregate (e.g. an email already in use)."""

    code = "CONFLICT"


class NotFound(DomainError):
    """The aggregate the command is about does not exist."""

    code = "NOT_FOUND"
