"""`projections.bulk` composes a statement once per shape (table, columns, conflict
rule), and its values per call."""

from __future__ import annotations

from uuid import uuid4

from projections.bulk import upsert

COLUMNS = (("id", "uuid"), ("tags", "text[]"), ("data", "jsonb"), ("amount", "numeric"))


def record(**changes: object) -> dict[str, object]:
    return {"id": uuid4(), "tags": ["vip"], "data": {"k": 1}, "amount": "12.50", **changes}


def test_one_shape_is_composed_once_and_each_call_has_its_own_values() -> None:
    first, second = record(), record()
    statement, values = upsert("t", COLUMNS, [first], key=("id",))
    again, other_values = upsert("t", list(COLUMNS), [second], key=["id"])
    assert again is statement
    assert values[0] == [first["id"]]
    assert other_values[0] == [second["id"]]
    assert str(other_values[3][0]) == "12.50"  # numeric text became a Decimal


def test_the_conflict_rule_and_merges_are_part_of_the_shape() -> None:
    update, _ = upsert("t", COLUMNS, [record()], key=("id",))
    nothing, _ = upsert("t", COLUMNS, [record()], key=("id",), on_conflict="nothing")
    merged, _ = upsert(
        "t", COLUMNS, [record()], key=("id",), merge={"tags": "t.tags || EXCLUDED.tags"}
    )
    texts = [s.as_string() for s in (update, nothing, merged)]
    assert len(set(texts)) == 3
    assert '"tags" = EXCLUDED."tags"' in texts[0]
    assert texts[1].endswith("DO NOTHING")
    assert '"tags" = t.tags || EXCLUDED.tags' in texts[2]
    assert "%b::uuid[]" in texts[0] and "%b::jsonb[]" in texts[0]
