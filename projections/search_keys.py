"""Search keys as users type: phone digits and the pinyin of Chinese names.

The read model stores, beside each personal value, a normalized key the list's search
and sort use (`projections.handlers.customers` computes them in the fold; they are
personal data too and are scrubbed with the values on erasure):

- ``phone_digits``: the E.164 number's digits, ``8613800138000``. A query typed as
  ``138 0013 8000``, ``+86-138-0013-8000``, ``0086 138…`` or ``(010) 1234 5678`` is
  reduced to digits the same way (`phone_query`): with the country code when the
  typing says which (a ``+``/``00`` prefix, a mainland mobile number or a trunk ``0``),
  then matched as a prefix (the index serves it); a fragment is matched anywhere.
- ``name_pinyin``: the name in toneless pinyin, lower case, syllables separated by one
  space (``张三`` -> ``zhang san``; a Latin name is itself lower-cased), which is also
  the NAME sort key, so Chinese names sort as Chinese readers expect (by pinyin) among
  Latin ones. ``name_initials``: the syllables' first letters (``zs``).

pypinyin (its phrase dictionary picks the reading of a polyphonic character in context)
does the conversion; everything else here is plain text handling.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from pypinyin import lazy_pinyin

_SEPARATORS: Final = re.compile(r"[\s\-().\u00b7/]+")
_PHONE_TYPED: Final = re.compile(r"^\+?[\d\s\-().\u00b7/]+$")
_MAINLAND_MOBILE: Final = re.compile(r"^1[3-9]\d{9}$")
_PINYIN_TYPED: Final = re.compile(r"^[a-z\s']+$")
_SPACES: Final = re.compile(r"\s+")
MIN_PHONE_DIGITS: Final = 3
"""Fewer typed digits than this is not searched as a phone (it would match everyone)."""


def phone_digits(e164: str | None) -> str | None:
    """``+8613800138000`` -> ``8613800138000`` (the stored key)."""
    if not e164:
        return None
    digits = re.sub(r"\D", "", e164)
    return digits or None


class PhoneQuery(NamedTuple):
    digits: str
    anchored: bool
    """True: `digits` starts with the country code, so it is a prefix of the stored key."""


def phone_query(text: str, country_code: str = "86") -> PhoneQuery | None:
    """What a search text means as a phone number, or None when it is not one."""
    typed = text.strip()
    if not _PHONE_TYPED.match(typed):
        return None
    digits = _SEPARATORS.sub("", typed)
    if digits.startswith("+"):
        return _long_enough(digits[1:], anchored=True)
    if digits.startswith("00") and len(digits) >= 10:  # shorter: a fragment with zeros
        return _long_enough(digits[2:], anchored=True)
    if _MAINLAND_MOBILE.match(digits) and country_code == "86":
        return PhoneQuery(country_code + digits, anchored=True)
    if digits.startswith("0") and len(digits) >= 9:
        return PhoneQuery(country_code + digits[1:], anchored=True)  # a trunk prefix
    return _long_enough(digits, anchored=False)


def _long_enough(digits: str, *, anchored: bool) -> PhoneQuery | None:
    return PhoneQuery(digits, anchored) if len(digits) >= MIN_PHONE_DIGITS else None


def name_pinyin(name: str | None) -> str | None:
    """``张三`` -> ``zhang san``; ``Ann Lee`` -> ``ann lee``; ``李 Ann`` -> ``li ann``."""
    if not name:
        return None
    syllables = (s.strip() for s in lazy_pinyin(name, errors="default"))
    return _SPACES.sub(" ", " ".join(s for s in syllables if s)).lower() or None


def name_initials(name: str | None) -> str | None:
    """``张三`` -> ``zs``; Latin words give their first letters (``Ann Lee`` -> ``al``)."""
    spelled = name_pinyin(name)
    if spelled is None:
        return None
    return "".join(word[0] for word in spelled.split(" ") if word) or None


def pinyin_query(text: str) -> str | None:
    """A search typed in pinyin (``zhangsan``, ``Zhang San``): lower case, no spaces or
    apostrophes; None when the text is not letters alone (then it is matched as typed)."""
    typed = text.strip().lower()
    if not typed or not _PINYIN_TYPED.match(typed):
        return None
    compact = re.sub(r"[\s']", "", typed)
    return compact or None
