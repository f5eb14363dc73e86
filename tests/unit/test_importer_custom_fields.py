"""`crm import customers --map HEADER=custom:KEY`: a column fills a custom field of the
registration (judged later by the customer's rule, like any registration's values)."""

from __future__ import annotations

import pytest

from commands.importing import ImportRefused, header_map, read_rows

CSV = "姓名,合同到期日,备注\n王小明,2026-06-30,x\n李雷,,y\n"


def test_a_mapped_column_becomes_a_custom_field_value() -> None:
    rows = list(read_rows(CSV, {"合同到期日": "custom:contract_end"}, "d" * 64))
    assert [r.command.custom_fields for r in rows] == [(("contract_end", "2026-06-30"),), ()]
    assert rows[0].command.name == "王小明"


def test_a_custom_target_needs_its_key() -> None:
    with pytest.raises(ImportRefused, match="custom:KEY"):
        header_map(["姓名", "x"], {"x": "custom:"})
