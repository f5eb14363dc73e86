"""The erasure's residue search looks for a phone number as people write it, not only in
the E.164 form the platform stores (pure: files in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.residue import phone_forms, search_files, variants


def test_a_mainland_number_is_searched_in_every_usual_form() -> None:
    forms = phone_forms("+8615364918100")
    for written in ("15364918100", "153-6491-8100", "153 6491 8100", "+86 153 6491 8100"):
        assert written in forms
    assert "008615364918100" in forms


@pytest.mark.parametrize("value", ["张三", "someone@example.com", "+86abc", "12345"])
def test_what_is_no_phone_number_has_no_phone_forms(value: str) -> None:
    assert phone_forms(value) == []
    assert variants(value)[0] == value


def test_files_holding_the_number_in_any_form_are_found(tmp_path: Path) -> None:
    for name, text in (
        ("e164.txt", "phone +8615364918100"),
        ("bare.txt", "phone 15364918100"),
        ("dashed.txt", "phone 153-6491-8100"),
        ("other.txt", "phone 15364918101"),
    ):
        (tmp_path / name).write_text(text)
    found = search_files(tmp_path, {"phone#2": "+8615364918100"})
    assert sorted(Path(f.where.removeprefix("file:")).name for f in found) == [
        "bare.txt",
        "dashed.txt",
        "e164.txt",
    ]
