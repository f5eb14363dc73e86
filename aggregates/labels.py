"""Closed forms for the text fields that stay readable after an erasure.

Free texts (summaries, outcomes, descriptions, reasons…) are sealed under the customer's
key (events' ``PERSONAL``), so forgetting the customer erases them. A few text fields
must stay readable without the key, because analytics counts by them and read models
filter by them: tags, complaint categories, and identifiers (order ids, SKUs, need and
survey ids). Those are restricted here to forms that cannot hold an email address or a
phone number, so personal data typed into them is refused instead of outliving the
erasure. Why these forms:

- a label (tag, category) is Unicode letters, digits, ``_`` and ``-`` (``高价值``,
  ``key-account``): no ``@``, ``.``, ``+`` or spaces, so no email address, and at most
  six digits, so no phone number (the shortest real ones have seven);
- an identifier adds ``.``, ``:``, ``/`` and ``#`` (``SO-2025.001``) but still no ``@``
  or spaces; it may be all digits (order numbers are), so a phone number typed as an
  order id cannot be told apart: the erasure's residue scan still finds the customer's
  own phone there.

A name typed into a label (``zelda-quorra``) cannot be refused by form; the residue
scan looks for the customer's names in every table and file, so it is found.
Descriptive fields that stay in clear (company, industry, region, source, owner, the
reason of an erasure) keep free wording but refuse anything containing an email
address or a phone-like run of seven or more digits (`check_no_contact_data`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aggregates.errors import ValidationFailed
from aggregates.validation import require_text

LABEL_MAX_DIGITS = 6
_LABEL = re.compile(r"[\w-]+")
_IDENTIFIER = re.compile(r"[\w][\w.:/#-]*")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
# Seven digits, possibly split by spaces, dots, dashes or parentheses (+86 138-0013-8000).
_PHONE = re.compile(r"\d(?:[\s().-]*\d){6,}")


def check_label(value: object, *, field: str, max_length: int) -> str:
    """A tag or category: trimmed, lower-cased, letters/digits/``_``/``-``, ≤ 6 digits."""
    text = require_text(value, field=field, max_length=max_length).lower()
    if not _LABEL.fullmatch(text):
        raise ValidationFailed(
            f"{field} must be letters, digits, '_' or '-' (no spaces, '@' or '.'), "
            "so it cannot hold an email address",
            field=field,
        )
    if sum(ch.isdigit() for ch in text) > LABEL_MAX_DIGITS:
        raise ValidationFailed(
            f"{field} must have at most {LABEL_MAX_DIGITS} digits, so it cannot hold "
            "a phone number",
            field=field,
        )
    return text


def check_labels(values: Iterable[str] | str, *, field: str, max_length: int) -> list[str]:
    """Each label checked (errors name ``tags[i]``), duplicates dropped, order kept."""
    items: Iterable[object] = [values] if isinstance(values, str) else values
    labels: list[str] = []
    for index, value in enumerate(items):
        label = check_label(value, field=f"{field}[{index}]", max_length=max_length)
        if label not in labels:
            labels.append(label)
    return labels


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


def check_no_contact_data(value: str | None, *, field: str) -> str | None:
    """Text kept in clear after an erasure must not contain an email or a phone number."""
    if value is None:
        return None
    if _EMAIL.search(value):
        raise ValidationFailed(
            f"{field} must not contain an email address (it stays readable after an erasure)",
            field=field,
        )
    if _PHONE.search(value):
        raise ValidationFailed(
            f"{field} must not contain a phone number or 7+ digit run "
            "(it stays readable after an erasure)",
            field=field,
        )
    return value
