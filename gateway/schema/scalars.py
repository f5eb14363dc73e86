"""The contract's scalars, strict on input: times carry an offset, money is exact.

`DateTime` is ISO 8601 with an offset ("2024-05-01T09:00:00+08:00" or "...Z"); a time
without one is refused, because the platform stores every date with a time zone.
`Decimal` is money as a string ("1999.00") or a whole number; a number with a fraction
(a JSON float, or a float literal) is refused, so no binary float ever rounds a price.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode

from gateway.errors import invalid


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 date and time: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"DateTime needs an offset such as +08:00 or Z: {value!r}")
    return parsed


def parse_datetime_literal(node: ValueNode, _variables: Any = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise ValueError("DateTime must be an ISO 8601 string with an offset")
    return parse_datetime(node.value)


CENTS = Decimal("0.01")


def serialize_decimal(value: Decimal | int | str) -> str:
    """Money with two decimals at least ("0.00", "1999.00"), as the contract shows it, the
    same whether a read model's default 0 or a sum of priced lines; more are kept."""
    number = value if isinstance(value, Decimal) else Decimal(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(CENTS)
    return str(number)


def parse_decimal(value: object) -> Decimal:
    # A JSON number with a fraction arrives as a binary float (0.1 is not 1/10):
    # refused, as RULES.md says money is never a float. Whole numbers are exact.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('Decimal must be a string such as "1999.00", never a float')
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite decimal number: {value!r}")
    return number


def parse_decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    if isinstance(node, StringValueNode | IntValueNode):
        return parse_decimal(node.value)
    if isinstance(node, FloatValueNode):
        raise ValueError(f'Decimal must be a string such as "{node.value}", never a float')
    raise ValueError('Decimal must be a string such as "1999.00"')


DATETIME = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 date and time with an offset, e.g. 2024-05-01T09:00:00+08:00",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
    parse_literal=parse_datetime_literal,
)
DECIMAL = strawberry.scalar(
    name="Decimal",
    description='Money as a decimal string, e.g. "1999.00"; never a binary float',
    serialize=serialize_decimal,
    parse_value=parse_decimal,
    parse_literal=parse_decimal_literal,
)

SCALAR_MAP: dict[object, Any] = {datetime: DATETIME, Decimal: DECIMAL}


def parse_id(value: str, field: str) -> UUID:
    """A customer, complaint or stream id; anything but a UUID is a VALIDATION error."""
    try:
        return UUID(str(value).strip())
    except ValueError:
        raise invalid(f"{field} must be a UUID, got {value!r}", field) from None


def parse_optional_id(value: str | None, field: str) -> UUID | None:
    return None if value is None else parse_id(value, field)
