"""The customer list's filter: SQL conditions over rm_customers, shared by pages and counts.

Lifecycle stage and tier are indexed columns the projections maintain, so filtering on
them is a plain lookup; `projections.keyset` pages the filtered list and
`projections.counts` counts it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from projections.custom_field_list import custom_field_conditions
from projections.membership import is_duplicate
from projections.search_keys import phone_query, pinyin_query
from projections.views import CustomerFilter


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern that takes `%`, `_` and `\\` in `text` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_condition(text: str, params: dict[str, Any]) -> sql.Composable:
    """Name, email, phone or company containing the text as typed; and the phone typed
    with spaces, dashes or +86 (`search_keys.phone_query`); and the name typed in pinyin
    or by its initials (`search_keys.pinyin_query`)."""
    params["text"] = like_pattern(text.strip())
    alternatives = [
        sql.SQL("c.name ILIKE %(text)s"),
        sql.SQL("c.email ILIKE %(text)s"),
        sql.SQL("c.phone ILIKE %(text)s"),
        sql.SQL("c.company ILIKE %(text)s"),
    ]
    phone = phone_query(text)
    if phone is not None:
        params["phone"] = phone.digits + "%" if phone.anchored else like_pattern(phone.digits)
        alternatives.append(sql.SQL("c.phone_digits LIKE %(phone)s"))
    spelled = pinyin_query(text)
    if spelled is not None:
        params["pinyin"] = like_pattern(spelled)
        params["initials"] = spelled + "%"
        alternatives.append(sql.SQL("replace(c.name_pinyin, ' ', '') LIKE %(pinyin)s"))
        alternatives.append(sql.SQL("c.name_initials LIKE %(initials)s"))
    return sql.SQL("({})").format(sql.SQL(" OR ").join(alternatives))


def given(where: CustomerFilter, name: str) -> str | None:
    """The filter's value for `name` as lists and totals both apply it: trimmed, a blank
    one not given (stored text is trimmed and blank means absent, so no row has ``''``),
    a tag in the lower case tags are stored in."""
    value = getattr(where, name)
    if value is None or not value.strip():
        return None
    return value.strip().lower() if name == "tag" else value.strip()


def filter_conditions(where: CustomerFilter) -> tuple[list[sql.Composable], dict[str, Any]]:
    """SQL conditions over ``rm_customers AS c`` and their parameters."""
    conditions: list[sql.Composable] = [sql.SQL("NOT {}").format(is_duplicate(sql.SQL("c.id")))]
    params: dict[str, Any] = {}
    text = given(where, "text")
    if text:
        conditions.append(_text_condition(text, params))
    tag = given(where, "tag")
    if tag:
        params["tag"] = tag
        conditions.append(sql.SQL("c.tags @> ARRAY[%(tag)s]::text[]"))
    for name in ("stage", "region", "owner", "lifecycle_stage", "tier"):
        value = given(where, name)
        if value is not None:
            params[name] = value
            conditions.append(sql.SQL("c.{} = %({})s").format(sql.Identifier(name), sql.SQL(name)))
    conditions.extend(custom_field_conditions(where.custom_fields, params))
    if where.owners is not None:
        params["owners"] = sorted(where.owners)
        conditions.append(sql.SQL("c.owner = ANY(%(owners)s::text[])"))
    return conditions, params
