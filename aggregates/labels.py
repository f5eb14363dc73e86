"""Closed forms for the text fields that stay readable after an erasure.

Free texts (summaries, outcomes, descriptions, reasons…) are sealed under the customer's
key (events' ``PERSONAL``), so forgetting the customer erases them. A few text fields
must stay readable without the key, because analytics counts by them and read models
filter by them: tags, complaint categories, and identifiers (order ids, SKUs, need and
survey ids). Those are restricted here to forms that cannot hold an email address or a
phone number, so personal data typed into them is refused instead of outliving the
erasure. Why these forms:

- a label (tag, category) is Unicode letters, digits, ``_`` and ``-`` (``高价值``,
  ``key-account``, ``2024-2025``): no ``@``, ``.``, ``+`` or spaces, so no email
  address; and no phone number: none that the ``phonenumbers`` library recognises
  (``138-0013-8000``, ``86-10-6552-9988``; numbers without a country code read as
  mainland China's) and no run of 11 or more digits (a mobile number's length) at all;
- an identifier adds ``.``, ``:``, ``/`` and ``#`` (``SO-2025.001``) but still no ``@``
  or spaces; it may be all digits (order numbers are), so a phone number typed as an
  order id cannot be told apart: the erasure's residue scan still finds the customer's
  own phone there.

A name typed into a label (``zelda-quorra``) cannot be refused by form; the residue
scan looks for the customer's names in every table and file, so it is found.
Descriptive fields that stay in clear (company, industry, region, source, owner, the
reason of an erasure) keep free wording but refuse anything containing an email
address or a phone number, by the same test (`check_no_contact_data`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from aggregates.errors import ValidationFailed
from aggregates.validation import require_text

PHONE_REGION = "CN"  # numbers without a country code are read as mainland China (RULES)
_LABEL = re.compile(r"[\w-]+")
_IDENTIFIER = re.compile(r"[\w][\w.:/#-]*")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_LONG_DIGITS = re.compile(r"\d{11,}")
_DIGIT = re.compile(r"\d")
FEWEST_PHONE_DIGITS = 6
"""No valid number has fewer digits: a country code of 2 and a national number of 4 (the
shortest of `phonenumbers`' metadata, checked by a unit test); mainland China's own need
7. Text with fewer digits in all skips the matcher, ~100 µs a call, most of a tag's check."""


def has_phone_number(text: str) -> bool:
    """A phone number the ``phonenumbers`` library finds (``-``/``_`` read as spaces),
    or 11+ digits in a row, whatever they are."""
    if _LONG_DIGITS.search(text):
        return True
    if len(_DIGIT.findall(text)) < FEWEST_PHONE_DIGITS:
        return False
    spaced = re.sub(r"[-_]", " ", text)
    matches = phonenumbers.PhoneNumberMatcher(
        spaced, PHONE_REGION, leniency=phonenumbers.Leniency.VALID
    )
    return any(True for _ in matches)


def check_label(value: object, *, field: str, max_length: int) -> str:
    """A tag or category: trimmed, lower-cased, letters/digits/``_``/``-``, no phone."""
    text = require_text(value, field=field, max_length=max_length).lower()
    if not _LABEL.fullmatch(text):
        raise ValidationFailed(
            f"{field} must be letters, digits, '_' or '-' (no spaces, '@' or '.'), "
            "so it cannot hold an email address",
            field=field,
        )
    if has_phone_number(text):
        raise ValidationFailed(f"{field} must not contain a phone number", field=field)
    return text


def check_labels(values: Iterable[str] | str, *, field: str, max_length: int) -> list[str]:
    """Each label checked (errors name ``tags[i]``), duplicates dropped, order kept."""
    items: Iterable[object] = [values] if isinstance(values, str) else values
    labels: dict[str, None] = {}  # ordered set: linear, not quadratic, in the count
    for index, value in enumerate(items):
        labels.setdefault(check_label(value, field=f"{field}[{index}]", max_length=max_length))
    return list(labels)


def check_identifier(value: object, *, field: str, max_length: int) -> str:
    """An order id, SKU, need or survey id: letters, digits and ``_ - . : / #``."""
    text = require_text(value, field=field, max_length=max_length)
    if not _IDENTIFIER.fullmatch(text):
        raise ValidationFailed(
            f"{field} must be letters, digits, '_', '-', '.', ':', '/' or '#', starting "
            "with a letter or digit (no spaces or '@'), so it cannot hold an email address",
            field=field,
        )
    return text


def check_not_naming(value: str, name: str | None, *, field: str) -> str:
    """Text kept in clear after an erasure must not name the person erased: their whole
    name, or a part of three letters or more of a name written with spaces (a word of
    its own there; a name in Chinese is matched anywhere, as it has no spaces)."""
    if not name or not name.strip():
        return value
    whole = name.strip()
    parts = [p for p in whole.split() if len(p) >= 3] if " " in whole else []
    for part in (whole, *parts):
        if part.isascii():
            found = bool(re.search(rf"(?<!\w){re.escape(part)}(?!\w)", value, re.IGNORECASE))
        else:
            found = len(part) >= 2 and part.casefold() in value.casefold()
        if found:
            raise ValidationFailed(
                f"{field} must not contain the customer's name (it stays readable after an "
                "erasure)",
                field=field,
            )
    return value


def check_no_contact_data(value: str | None, *, field: str) -> str | None:
    """Text kept in clear after an erasure must not contain an email or a phone number."""
    if value is None:
        return None
    if _EMAIL.search(value):
        raise ValidationFailed(
            f"{field} must not contain an email address (it stays readable after an erasure)",
            field=field,
        )
    if has_phone_number(value):
        raise ValidationFailed(
            f"{field} must not contain a phone number (it stays readable after an erasure)",
            field=field,
        )
    return value
