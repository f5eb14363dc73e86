"""The duplicate finder's pure parts: keys, scores and cursors (projections.duplicates),
and the import core's refusals naming what to fix (commands.importing)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands.importing import ImportRefused, decode, header_map
from projections.cursors import InvalidCursor
from projections.duplicates import (
    CANDIDATES_SQL,
    MAX_GROUP,
    WEIGHTS,
    candidate_cursor,
    email_key,
    name_key,
    read_candidate_cursor,
    score,
)
from projections.search_keys import name_pinyin, phone_digits


def test_a_pair_needs_a_phone_an_email_or_a_name_at_the_same_company() -> None:
    assert score([]) == 0
    assert score(["COMPANY", "REGION"]) == 0
    assert score(["NAME"]) == 0 and score(["NAME", "REGION"]) == 0  # homonyms
    assert score(["NAME", "COMPANY"]) == 40 and score(["NAME", "COMPANY", "REGION"]) == 45
    assert score(["EMAIL", "REGION"]) == 55 and score(["PHONE"]) == 50
    assert score(["PHONE", "NAME", "COMPANY"]) == 90
    assert score(["PHONE", "EMAIL", "NAME", "COMPANY", "REGION"]) == 100  # capped
    assert score(["PHONE", "PHONE"]) == 50


def test_the_sql_scores_with_the_same_weights() -> None:
    for reason, points in WEIGHTS.items():
        assert f"'{reason}' = ANY(reasons) THEN {points} ELSE 0" in CANDIDATES_SQL
    assert f"HAVING count(*) <= {MAX_GROUP}" in CANDIDATES_SQL


@pytest.mark.parametrize(
    ("one", "other"),
    [("张三", "Zhang San"), ("张三", "zhangsan"), ("欧阳娜娜", "Ouyang Nana"), ("李 娜", "李娜")],
)
def test_names_in_hanzi_or_pinyin_share_a_key(one: str, other: str) -> None:
    assert name_key(name_pinyin(one)) == name_key(name_pinyin(other)) is not None


def test_different_names_and_empty_ones_do_not() -> None:
    assert name_key(name_pinyin("张三")) != name_key(name_pinyin("张山峰"))
    assert name_key(None) is None and name_key("") is None


def test_emails_lose_case_and_a_plus_tag() -> None:
    assert email_key("Ann+Shop@Example.com") == "ann@example.com" == email_key("ann@example.com")
    assert email_key("ann@example.com") != email_key("anne@example.com")
    assert email_key(None) is None and email_key("no-at-sign") is None


def test_phones_typed_any_way_are_one_e164_key() -> None:
    assert phone_digits("+8613800138000") == "8613800138000"


def test_cursors_round_trip_and_refuse_others() -> None:
    a, b = uuid4(), uuid4()
    assert read_candidate_cursor(candidate_cursor(55, a, b)) == (55, a, b)
    for bad in ("nope", candidate_cursor(55, a, b)[:-4], "WyJjIiwgMV0"):
        with pytest.raises(InvalidCursor):
            read_candidate_cursor(bad)


def test_an_import_names_what_to_fix() -> None:
    with pytest.raises(ImportRefused) as mapped:
        header_map(["who"], {"who": "nickname"})
    assert mapped.value.field == "mapping" and "nickname" in str(mapped.value)
    with pytest.raises(ImportRefused) as nameless:
        header_map(["email"], {})
    assert nameless.value.field == "mapping"
    gb = "姓名\n张伟\n".encode("gb18030")
    assert decode(gb) == ("姓名\n张伟\n", "gb18030")
    assert decode(gb, "gb18030")[1] == "gb18030"
    with pytest.raises(ImportRefused) as wrong:
        decode(gb, "utf-8")
    assert wrong.value.field == "encoding"
    with pytest.raises(ImportRefused) as unknown:
        decode(b"x", "latin-1")
    assert unknown.value.field == "encoding"
