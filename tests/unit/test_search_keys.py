"""Search keys as users type them: phone digits and pinyin (projections.search_keys)."""

from __future__ import annotations

import pytest

from projections.search_keys import (
    PhoneQuery,
    name_initials,
    name_pinyin,
    phone_digits,
    phone_query,
    pinyin_query,
)


@pytest.mark.parametrize(
    "typed",
    [
        "138 0013 8000",
        "+86-138-0013-8000",
        "13800138000",
        "0086 138 0013 8000",
        "+86 138.0013.8000",
    ],
)
def test_a_mainland_mobile_typed_any_way_is_the_stored_key_as_a_prefix(typed: str) -> None:
    assert phone_query(typed) in (
        PhoneQuery("8613800138000", anchored=True),
        PhoneQuery("861380013", anchored=True),
    )
    assert phone_digits("+8613800138000") == "8613800138000"


def test_a_landline_with_its_trunk_zero_and_fragments() -> None:
    assert phone_query("(010) 1234 5678") == PhoneQuery("861012345678", anchored=True)
    assert phone_query("0013 8000") == PhoneQuery("00138000", anchored=False)
    assert phone_query("8000") == PhoneQuery("8000", anchored=False)
    assert phone_query("+1 415 555 0123") == PhoneQuery("14155550123", anchored=True)


@pytest.mark.parametrize("typed", ["ann", "12", "138-abc", "", "zhang@example.com"])
def test_text_that_is_not_a_phone_number_is_not_searched_as_one(typed: str) -> None:
    assert phone_query(typed) is None


def test_chinese_names_in_toneless_pinyin_latin_names_lower_cased() -> None:
    assert name_pinyin("张三") == "zhang san"
    assert name_pinyin("Ann Lee") == "ann lee"
    assert name_pinyin("李 Ann") == "li ann"
    assert name_pinyin("吕") == "lv"
    assert name_initials("张三") == "zs"
    assert name_initials("王小明") == "wxm"
    assert name_pinyin(None) is None and name_initials("") is None


def test_pinyin_sorts_chinese_names_among_latin_ones() -> None:
    names = ["Zhou Tim", "张三", "Zara", "阿里", "Bob"]
    ordered = sorted(names, key=lambda n: name_pinyin(n) or "")
    assert ordered == ["阿里", "Bob", "Zara", "张三", "Zhou Tim"]


def test_a_pinyin_query_is_letters_without_spaces() -> None:
    assert pinyin_query("Zhang San") == "zhangsan"
    assert pinyin_query("xi'an") == "xian"
    assert pinyin_query("张三") is None
    assert pinyin_query("13800") is None
