"""Input normalisation shared by every command.

Each function either returns the canonical value (trimmed, lower-cased, E.164, Decimal)
or raises `ValidationFailed` naming the GraphQL field, so aggregates only ever record
clean values and read models never have to re-normalise. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from aggregates.errors import ValidationFailed

NAME_MAX = 200
TAG_MAX = 50
ID_MAX = 100
SHORT_TEXT_MAX = 200
ADDRESS_MAX = 500
REASON_MAX = 1000
DESCRIPTION_MAX = 5000
PHONE_INPUT_MAX = 64
# Money caps keep Decimal arithmetic exact under the default 28-digit context.
MONEY_MAX = Decimal("1e15")
MONEY_MAX_PLACES = 8
QUANTITY_MAX = 1_000_000
SCORE_MIN, SCORE_MAX = 1, 5
MAX_LINES = 100
"""Purchase lines per order."""
TAGS_PER_COMMAND = 50
"""Tags one command may name (RULES.md: at most 50 per customer, so more is a mistake)."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""Business time before this is a typo (year 0001), not a CRM fact."""
LATEST_AHEAD = timedelta(days=1)
"""Business time may run ahead of the server's clock by at most this (clock skew,
time zones), never into year 9999."""

# Characters that change how text is shown without being seen: bidi controls
# (U+202A-U+202E, U+2066-U+2069; "Trojan Source" style spoofing), zero-width ones
# (U+200B-U+200D, U+FEFF) and C0/C1 controls. Free text may keep tab and newlines.
_INVISIBLE = "\u202a-\u202e\u2066-\u2069\u200b-\u200d\ufeff"
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_FORBIDDEN_IN_TEXT = re.compile(f"[{_INVISIBLE}{_CONTROLS}]")
_FORBIDDEN_IN_LINE = re.compile(f"[{_INVISIBLE}{_CONTROLS}\t\n\r]")

_DECIMAL_TEXT = re.compile(r"[+-]?\d+(\.\d+)?")
_PURPOSE = re.compile(r"[a-z][a-z0-9_.-]{0,49}")


def require_aware(at: datetime, *, field: str = "occurredAt") -> datetime:
    """Business time must carry a zone: a naive time is ambiguous by up to a day."""
    if not isinstance(at, datetime):
        raise ValidationFailed("occurredAt must be a date-time", field=field)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed("occurredAt must include a time zone", field=field)
    try:
        return at.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's end
        raise ValidationFailed(f"{field} is out of range", field=field) from None


def check_occurred_at(at: datetime, now: datetime, *, field: str = "occurredAt") -> datetime:
    """Business time in the accepted range: from 2000-01-01 to one day after `now`."""
    when = require_aware(at, field=field)
    latest = now + LATEST_AHEAD
    if not EARLIEST <= when <= latest:
        raise ValidationFailed(
            f"{field} must be between {EARLIEST.date().isoformat()} and one day from now "
            f"({latest.isoformat(timespec='seconds')})",
            field=field,
        )
    return when


def check_not_before(
    at: datetime, start: datetime, what: str, *, field: str = "occurredAt"
) -> datetime:
    """A step of a complaint's or task's life cannot happen before the life began (`what`:
    "the complaint was filed"): its age would be negative."""
    when = require_aware(at, field=field)
    if when < start:
        raise ValidationFailed(
            f"{field} must not be before {what} ({start.isoformat(timespec='seconds')})",
            field=field,
        )
    return when


def check_count(items: Sequence[object], most: int, *, field: str) -> None:
    """A bounded list, checked before any item is looked at."""
    if len(items) > most:
        raise ValidationFailed(f"{field} may hold at most {most} items", field=field)


def check_visible(text: str, *, field: str, multiline: bool = True) -> str:
    """Refuse invisible characters (bidi, zero-width, controls; see `_INVISIBLE`)."""
    forbidden = _FORBIDDEN_IN_TEXT if multiline else _FORBIDDEN_IN_LINE
    found = forbidden.search(text)
    if found:
        raise ValidationFailed(
            f"{field} must not contain control, bidi or zero-width characters "
            f"(found U+{ord(found.group()):04X})",
            field=field,
        )
    return text


def normalize_text(
    value: object, *, field: str, max_length: int, multiline: bool = True
) -> str | None:
    """Optional free text: trimmed; blank means absent; no invisible characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if len(value) > max_length * 2:  # refuse the absurd before scanning it
        raise ValidationFailed(f"{field} must be at most {max_length} characters", field=field)
    text = value.strip()
    if not text:
        return None
    if len(text) > max_length:
        raise ValidationFailed(f"{field} must be at most {max_length} characters", field=field)
    return check_visible(text, field=field, multiline=multiline)


def require_text(value: object, *, field: str, max_length: int, multiline: bool = True) -> str:
    """Required free text or identifier: trimmed, not blank."""
    text = normalize_text(value, field=field, max_length=max_length, multiline=multiline)
    if text is None:
        raise ValidationFailed(f"{field} is required", field=field)
    return text


def normalize_name(value: object, *, field: str = "name", max_length: int = NAME_MAX) -> str:
    """A customer's name: required, trimmed, 1 to 200 characters, on one line."""
    return require_text(value, field=field, max_length=max_length, multiline=False)


def normalize_email(value: object, *, field: str = "email") -> str | None:
    """Optional; trimmed, lower-cased and syntactically valid (no DNS: pure code)."""
    text = normalize_text(value, field=field, max_length=320)
    if text is None:
        return None
    try:
        result = validate_email(text.lower(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationFailed(f"invalid email: {error}", field=field) from None
    return str(result.normalized).lower()


def normalize_phone(value: object, *, field: str = "phone", region: str = "CN") -> str | None:
    """Optional; E.164. A number without a country code is read in `region` (mainland China)."""
    text = normalize_text(value, field=field, max_length=PHONE_INPUT_MAX)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationFailed(f"invalid phone number {text!r}", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"invalid phone number {text!r}", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_tag(value: object, *, field: str = "tags", max_length: int = TAG_MAX) -> str:
    """A tag: trimmed, lower-cased, 1 to 50 characters, so "VIP " and "vip" are one tag."""
    return require_text(value, field=field, max_length=max_length, multiline=False).lower()


def normalize_tags(
    values: Iterable[str] | str, *, field: str = "tags", most: int | None = None
) -> list[str]:
    """Each tag normalised (errors name ``tags[i]``), duplicates dropped, order kept.

    With `most`, more than that many given is refused before any is normalised.
    """
    items: Sequence[object] = [values] if isinstance(values, str) else list(values)
    if most is not None:
        check_count(items, most, field=field)
    tags: dict[str, None] = {}  # ordered set: linear, not quadratic, in the count
    for index, value in enumerate(items):
        tags.setdefault(normalize_tag(value, field=f"{field}[{index}]"))
    return list(tags)


def parse_money(
    value: Decimal | str | int, *, field: str, minimum: Decimal | None = Decimal(0)
) -> Decimal:
    """Money as an exact Decimal. Floats are refused: 0.1 + 0.2 is not 0.3 in binary."""
    if isinstance(value, bool | float):
        raise ValidationFailed(f"{field} must be a decimal string, never a float", field=field)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        amount = Decimal(value.strip())
    else:
        raise ValidationFailed(f"{field} must be a decimal number like '12.50'", field=field)
    if not amount.is_finite():
        raise ValidationFailed(f"{field} must be a finite number", field=field)
    if minimum is not None and amount < minimum:
        raise ValidationFailed(f"{field} must be at least {minimum}", field=field)
    if abs(amount) >= MONEY_MAX:
        raise ValidationFailed(f"{field} is too large", field=field)
    if amount != amount.quantize(Decimal(1).scaleb(-MONEY_MAX_PLACES)):
        raise ValidationFailed(
            f"{field} has more than {MONEY_MAX_PLACES} decimal places", field=field
        )
    # Drop a negative zero so "-0" and "0" are one amount.
    return amount.copy_abs() if amount.is_zero() else amount


def parse_quantity(value: object, *, field: str) -> int:
    """A whole number of items, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    if value < 1:
        raise ValidationFailed(f"{field} must be at least 1", field=field)
    if value > QUANTITY_MAX:
        raise ValidationFailed(f"{field} must be at most {QUANTITY_MAX}", field=field)
    return value


def check_score(value: object, *, field: str = "score") -> int:
    """A 1-to-5 rating (survey score, complaint satisfaction)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be a whole number from 1 to 5", field=field)
    if not SCORE_MIN <= value <= SCORE_MAX:
        raise ValidationFailed(f"{field} must be from 1 to 5", field=field)
    return value


def check_satisfaction(value: object, *, field: str = "satisfaction") -> int | None:
    """Satisfaction is optional; when given it is 1 to 5."""
    return None if value is None else check_score(value, field=field)


def check_choice(value: object, choices: Sequence[str], *, field: str) -> str:
    """One of a fixed vocabulary; case and surrounding spaces are forgiven."""
    if not isinstance(value, str) or value.strip().upper() not in choices:
        raise ValidationFailed(f"{field} must be one of {', '.join(choices)}", field=field)
    return value.strip().upper()


def check_currency(value: object, *, field: str = "currency") -> str:
    """An ISO 4217-looking code, upper-cased; whether it is known is the policy's call."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ValidationFailed(f"{field} must be a three-letter currency code", field=field)
    return value.strip().upper()


def check_purpose(value: object, *, field: str = "purpose") -> str:
    """A consent purpose key such as "marketing": lower-case, starts with a letter."""
    text = require_text(value, field=field, max_length=50).lower()
    if not _PURPOSE.fullmatch(text):
        raise ValidationFailed(
            f"{field} must be letters, digits, '_', '.' or '-', starting with a letter",
            field=field,
        )
    return text


def check_bool(value: object, *, field: str) -> bool:
    """A real boolean; 0/1 or "yes" would hide client bugs."""
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


def check_uuid(value: object, *, field: str) -> UUID:
    """Identifiers are UUIDs; the string form is accepted for convenience."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value.strip())
        except ValueError:
            pass
    raise ValidationFailed(f"{field} must be a UUID", field=field)


def check_optional_uuid(value: object, *, field: str) -> UUID | None:
    return None if value is None else check_uuid(value, field=field)
