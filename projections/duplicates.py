"""Likely duplicate customers (`duplicateCandidates`, `crm duplicates list`): pairs that
share a normalized key, scored, best first.

Keys, all read from rm_customers (the customers fold keeps them, `projections.search_keys`):

- ``PHONE``: the E.164 number's digits (``138 0013 8000`` and ``+86-138-0013-8000`` are
  one number);
- ``EMAIL``: the normalized address with a ``+tag`` dropped (``ann+shop@x.cn`` is
  ``ann@x.cn``);
- ``NAME``: the pinyin of the name without spaces (``张三``, ``Zhang San`` and ``zhangsan``
  are one name).

A pair is two live customers (not merged into another, not forgotten) sharing a phone,
an email, or a name *and* a company (`is_pair`: homonyms are too common for a name
alone); every other shared key (name, company, the normalized company name; region)
then adds to the score. A merged pair drops out by itself (the duplicate is no longer
live). Pairs come from a self-join per key over the live rows (hashed), never a
comparison of every customer with every other; a key value shared by more than
`MAX_GROUP` customers (a switchboard number, a very common name at a big company) says
nothing about any two of them and is skipped, which also bounds the pairs a key makes.

The score is whole points, 0–100 (`WEIGHTS`, capped), computed in SQL from the same table
`score` uses, so a page is a keyset walk ``ORDER BY score DESC, a, b`` (a < b by id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from psycopg import Connection

from projections.cursors import encode_cursor, read_tagged

PRIMARY: Final = ("PHONE", "EMAIL", "NAME")
"""Reasons that make a pair (`is_pair`: the name only together with the company)."""
SUPPORTING: Final = ("COMPANY", "REGION")
"""Reasons that only raise the score of a pair found otherwise."""
REASONS: Final = PRIMARY + SUPPORTING
WEIGHTS: Final[dict[str, int]] = {"PHONE": 50, "EMAIL": 50, "NAME": 30, "COMPANY": 10, "REGION": 5}
MAX_SCORE: Final = 100
MAX_GROUP: Final = 20


def is_pair(reasons: Iterable[str]) -> bool:
    """A shared phone or email, or the same name at the same company: a name alone is not
    (homonyms are common: 13,680 of the 14,931 pairs a name alone made among the
    10,000-customer demo's were such, and a region shared by a name changes little)."""
    given = set(reasons)
    return bool(given & {"PHONE", "EMAIL"}) or {"NAME", "COMPANY"} <= given


def score(reasons: Iterable[str]) -> int:
    """Points for a pair's reasons; 0 when they do not make a pair."""
    given = set(reasons)
    if not is_pair(given):
        return 0
    return min(MAX_SCORE, sum(WEIGHTS[r] for r in given))


def email_key(email: str | None) -> str | None:
    """``Ann+Shop@X.cn`` -> ``ann@x.cn`` (the SQL below computes the same)."""
    if not email:
        return None
    local, at, domain = email.strip().lower().rpartition("@")
    if not at:
        return None
    return f"{local.split('+', 1)[0]}@{domain}"


def name_key(pinyin: str | None) -> str | None:
    """A name's pinyin key without spaces: ``zhang san`` -> ``zhangsan``."""
    compact = (pinyin or "").replace(" ", "")
    return compact or None


@dataclass(frozen=True)
class Candidate:
    """Two customers that look like one; `survivor_id` is the older (suggested survivor)."""

    survivor_id: UUID
    duplicate_id: UUID
    score: int
    reasons: tuple[str, ...]
    cursor: str


@dataclass(frozen=True)
class CandidatePage:
    candidates: list[Candidate]
    has_next: bool


def candidate_cursor(points: int, a: UUID, b: UUID) -> str:
    return encode_cursor(["d", points, str(a), str(b)])


def read_candidate_cursor(cursor: str) -> tuple[int, UUID, UUID]:
    return read_tagged(cursor, "d", _points_and_pair)


def _points_and_pair(points: object, a: object, b: object) -> tuple[int, UUID, UUID]:
    if not isinstance(points, int) or isinstance(points, bool):
        raise ValueError(points)
    return points, UUID(str(a)), UUID(str(b))


def _points(reason: str) -> str:
    return f"CASE WHEN '{reason}' = ANY(reasons) THEN {WEIGHTS[reason]} ELSE 0 END"


_SCORE_SQL: Final = f"least({MAX_SCORE}, " + " + ".join(_points(r) for r in REASONS) + ")"

_KEYS: Final = {
    "PHONE": "phone_digits",
    "EMAIL": "regexp_replace(email, '\\+[^@]*@', '@')",
    "NAME": "nullif(replace(name_pinyin, ' ', ''), '')",
    "COMPANY": "nullif(lower(trim(company)), '')",
    "REGION": "region",
}
_SHARING: Final = {
    "PHONE": ("phone",),
    "EMAIL": ("email",),
    "NAME": ("name", "company"),
}
"""Which keys two customers share to be a pair, per pair-making reason."""


def _shared(reason: str) -> str:
    """Pairs sharing the reason's keys, crowded key values left out."""
    keys = _SHARING[reason]
    together = ", ".join(f"x.{k}" for k in keys)
    columns = ", ".join(keys)
    same = " AND ".join(f"y.{k} = x.{k}" for k in keys)
    present = " AND ".join(f"{k} IS NOT NULL" for k in keys)
    return f"""
  SELECT x.id AS a, y.id AS b FROM live x JOIN live y ON {same} AND x.id < y.id
  WHERE ({together}) IN (
    SELECT {columns} FROM live WHERE {present} GROUP BY {columns} HAVING count(*) <= {MAX_GROUP})"""


def _reason_test(reason: str) -> str:
    key = reason.lower()
    return f"CASE WHEN x.{key} = y.{key} THEN '{reason}' END"


CANDIDATES_SQL: Final = (
    "WITH live AS MATERIALIZED (SELECT id, created_at, "
    + ", ".join(f"{expr} AS {reason.lower()}" for reason, expr in _KEYS.items())
    + " FROM rm_customers WHERE merged_into IS NULL AND NOT forgotten"
    # The caller's scope (`gateway.scope`): both customers of a pair must be inside it.
    + " AND (%(owners)s::text[] IS NULL OR owner = ANY(%(owners)s::text[]))),\n"
    + "pairs AS ("
    + "\n  UNION".join(_shared(reason) for reason in PRIMARY)
    + "\n),\nreasoned AS (\n"
    "  SELECT p.a, p.b, x.created_at AS a_created, y.created_at AS b_created,"
    " array_remove(ARRAY[" + ", ".join(_reason_test(r) for r in REASONS) + "], NULL) AS reasons\n"
    "  FROM pairs p JOIN live x ON x.id = p.a JOIN live y ON y.id = p.b\n),\n"
    f"scored AS (SELECT *, {_SCORE_SQL} AS score FROM reasoned)\n"
    "SELECT a, b, a_created, b_created, score, reasons FROM scored\n"
    "WHERE %(after_score)s::int IS NULL\n"
    "   OR score < %(after_score)s\n"
    "   OR (score = %(after_score)s AND (a, b) > (%(after_a)s::uuid, %(after_b)s::uuid))\n"
    "ORDER BY score DESC, a, b\n"
    "LIMIT %(limit)s"
)


def duplicate_candidates(
    conn: Connection[Any],
    *,
    first: int = 20,
    after: str | None = None,
    owners: frozenset[str] | None = None,
) -> CandidatePage:
    """One page of candidate pairs, best first, among customers `owners` own (None: all);
    a bad `after` raises `InvalidCursor`."""
    after_score, after_a, after_b = (
        read_candidate_cursor(after) if after is not None else (None, None, None)
    )
    params = {
        "after_score": after_score,
        "after_a": after_a,
        "after_b": after_b,
        "limit": first + 1,
        "owners": sorted(owners) if owners is not None else None,
    }
    rows = conn.execute(CANDIDATES_SQL, params).fetchall()
    return CandidatePage([_candidate(*row) for row in rows[:first]], len(rows) > first)


def _candidate(
    a: UUID, b: UUID, a_created: datetime, b_created: datetime, points: int, reasons: list[str]
) -> Candidate:
    older_first = (a_created, a) <= (b_created, b)
    survivor, duplicate = (a, b) if older_first else (b, a)
    ordered = tuple(r for r in REASONS if r in reasons)
    return Candidate(survivor, duplicate, points, ordered, candidate_cursor(points, a, b))
