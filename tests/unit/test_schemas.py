"""The published JSON Schemas are generated from the code and must match it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from events import ALL_EVENTS, ContactTouchRecorded, PurchaseRecorded
from schemas.generate import SCHEMAS_DIR, all_schemas, differences, event_schema, export


def test_committed_schema_files_match_the_code() -> None:
    assert differences() == [], "run `crm schemas export` and commit schemas/"


def test_a_changed_event_is_detected(tmp_path: Path) -> None:
    export(tmp_path)
    path = tmp_path / "events" / "crm.customer.tagged.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["tags"] = {"type": "string"}
    path.write_text(json.dumps(schema))
    (tmp_path / "events" / "crm.customer.gone.v1.json").write_text("{}")
    found = differences(tmp_path)
    assert "events/crm.customer.tagged.v1.json" in found
    assert any("crm.customer.gone.v1.json" in name for name in found)


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_every_schema_is_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(all_schemas()[name])


def test_one_file_per_type_and_version() -> None:
    names = {p.name for p in (SCHEMAS_DIR / "events").glob("*.json")}
    expected = {
        f"{cls.TYPE}.v{v}.json"
        for cls in ALL_EVENTS
        for v in range(1, getattr(cls, "class_version", 1) + 1)
    }
    assert names == expected
    assert "crm.customer.registered.v1.json" in names


def test_old_versions_lack_fields_added_later() -> None:
    v1 = event_schema(ContactTouchRecorded, 1)
    v2 = event_schema(ContactTouchRecorded, 2)
    assert "direction" not in v1["properties"] and "direction" in v2["properties"]
    assert set(event_schema(PurchaseRecorded, 1)["required"]) == {"order_id", "lines", "total"}


def test_schema_rejects_bad_data_and_accepts_good() -> None:
    schema = event_schema(PurchaseRecorded, 2)
    good = {
        "order_id": "SO-1",
        "lines": [{"sku": "A", "quantity": 2, "unit_price": "10.50", "amount": "21.00"}],
        "currency": "USD",
        "rate_to_cny": "7.10",
        "total": "21.00",
        "total_cny": "149.10",
    }
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "total": 21.0}, schema)  # money is never a float
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "lines": []}, schema)


def test_the_relay_validator_refuses_a_broken_envelope() -> None:
    from uuid import uuid4

    from streams.envelope import InvalidEnvelope, validate

    envelope = {
        "specversion": "1.0",
        "id": str(uuid4()),
        "type": "crm.customer.tagged.v1",
        "source": "crm",
        "subject": str(uuid4()),
        "time": "2026-01-01T00:00:00+00:00",
        "datacontenttype": "application/json",
        "data": {"tags": ["vip"]},
        "position": 1,
        "stream": str(uuid4()),
        "version": 2,
        "recordedat": "2026-01-01T00:00:00+00:00",
        "actor": "a",
        "correlationid": None,
        "causationid": None,
    }
    validate(envelope)
    with pytest.raises(InvalidEnvelope, match=r"data\.tags"):
        validate({**envelope, "data": {"tags": "vip"}})
    with pytest.raises(InvalidEnvelope, match=r"envelope\.position"):  # not "data.position"
        validate({**envelope, "position": 0})
    with pytest.raises(InvalidEnvelope, match="unknown event type"):
        validate({**envelope, "type": "crm.customer.nope.v1"})
