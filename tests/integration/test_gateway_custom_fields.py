"""Custom fields over HTTP on the real servers: an admin defines typed fields, sales set
values (checked by the customer's rule), the profile shows them, the list filters on
them through the GIN index, the timeline has a CUSTOM_FIELDS entry, an analyst sees no
TEXT value, a non-admin cannot define, and forgetting erases TEXT values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from streams.envelope import validate
from streams.source import EventSource
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import NOW, done, mutate, new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PROFILE = "query($id: ID!) { customer(id: $id) { customFields { key label type value values } } }"
LIST = (
    "query($f: CustomerFilter) { customers(filter: $f, first: 50) { totalCount "
    "edges { node { id } } } }"
)
ENTRIES = (
    "query($id: ID!) { customer(id: $id) { timeline(types: [CUSTOM_FIELDS]) { edges { node { "
    "kind summary actor ... on CustomFieldsEntry { changes { key type before after } } } } } } }"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fields(gw: GatewayHarness) -> dict[str, str]:
    return await define_fields(gw)


async def define_fields(gw: GatewayHarness) -> dict[str, str]:
    """Five fields with keys of their own (the catalog is per database)."""
    run = uuid4().hex[:6]
    keys = {
        "segment": f"segment_{run}",
        "renewal": f"renewal_{run}",
        "seats": f"seats_{run}",
        "channels": f"channels_{run}",
        "remark": f"remark_{run}",
    }
    definitions: list[dict[str, Any]] = [
        {"key": keys["segment"], "label": "行业细分", "type": "SINGLE_CHOICE",
         "choices": ["制造", "零售", "金融"]},
        {"key": keys["renewal"], "label": "合同到期日", "type": "DATE"},
        {"key": keys["seats"], "label": "Seats", "type": "NUMBER"},
        {"key": keys["channels"], "label": "Channels", "type": "MULTI_CHOICE",
         "choices": ["wechat", "email", "phone"]},
        {"key": keys["remark"], "label": "Remark", "type": "TEXT"},
    ]  # fmt: skip
    for given in definitions:
        payload = await done(
            gw, "defineCustomField", given, "key position definition { key type choices }"
        )
        assert payload["definition"]["type"] == given["type"]
    return keys


async def set_values(
    gw: GatewayHarness, cid: str, values: list[dict[str, Any]], role: str = "sales"
) -> dict[str, Any]:
    return await mutate(gw, "setCustomFields", {"customerId": cid, "values": values}, role=role)


async def profile(gw: GatewayHarness, cid: str, role: str = "admin") -> dict[str, Any]:
    data = await gw.data(PROFILE, {"id": cid}, role=role)
    return {f["key"]: f for f in data["customer"]["customFields"]}


async def listed(gw: GatewayHarness, *conditions: dict[str, Any]) -> set[str]:
    data = await gw.data(LIST, {"f": {"customFields": list(conditions)}})
    ids = {e["node"]["id"] for e in data["customers"]["edges"]}
    assert data["customers"]["totalCount"] == len(ids)
    return ids


async def test_definitions_are_listed_and_only_admins_define_them(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    data = await gw.data("{ customFields { key label type choices required retired } }",
                         role="analyst")  # fmt: skip
    mine = [d for d in data["customFields"] if d["key"] in fields.values()]
    assert [d["label"] for d in mine] == ["行业细分", "合同到期日", "Seats", "Channels", "Remark"]
    assert mine[0]["choices"] == ["制造", "零售", "金融"]
    for role in ("sales", "support", "analyst", "compliance"):
        refused = await mutate(
            gw, "defineCustomField", {"key": "nope", "label": "N", "type": "TEXT"}, role=role
        )
        assert error_codes(refused) == ["FORBIDDEN"], role
        retire = await mutate(gw, "retireCustomField", {"key": fields["seats"]}, role=role)
        assert error_codes(retire) == ["FORBIDDEN"], role
    taken = await mutate(gw, "defineCustomField", {"key": fields["seats"], "label": "S",
                                                   "type": "TEXT"})  # fmt: skip
    assert first_error(taken)["extensions"] == {"code": "RULE", "field": "key"}


async def test_values_show_on_the_profile_and_the_timeline(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    cid = await new_customer(gw, "Field Case")
    result = await set_values(
        gw,
        cid,
        [
            {"key": fields["segment"], "value": "零售"},
            {"key": fields["renewal"], "value": "2026-06-30"},
            {"key": fields["seats"], "value": "12.50"},
            {"key": fields["channels"], "values": ["phone", "wechat"]},
            {"key": fields["remark"], "value": "prefers mornings"},
        ],
    )
    assert "errors" not in result, result
    shown = await profile(gw, cid)
    assert shown[fields["segment"]]["value"] == "零售"
    assert shown[fields["seats"]]["value"] == "12.5"
    assert shown[fields["renewal"]] == {
        "key": fields["renewal"], "label": "合同到期日", "type": "DATE",
        "value": "2026-06-30", "values": ["2026-06-30"],
    }  # fmt: skip
    assert shown[fields["channels"]]["values"] == ["phone", "wechat"]
    assert shown[fields["remark"]]["value"] == "prefers mornings"
    await set_values(gw, cid, [{"key": fields["seats"], "value": None}])
    assert fields["seats"] not in await profile(gw, cid)
    data = await gw.data(ENTRIES, {"id": cid})
    entries = [e["node"] for e in data["customer"]["timeline"]["edges"]]
    assert [e["kind"] for e in entries] == ["CUSTOM_FIELDS", "CUSTOM_FIELDS"]
    assert entries[0]["changes"] == [
        {"key": fields["seats"], "type": "NUMBER", "before": ["12.5"], "after": []}
    ]
    assert entries[0]["actor"] == "sales-user"
    first = {c["key"]: c for c in entries[1]["changes"]}
    assert first[fields["remark"]]["after"] == ["prefers mornings"]
    assert first[fields["channels"]]["after"] == ["phone", "wechat"]


async def test_bad_values_are_refused_naming_the_field(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    cid = await new_customer(gw, "Bad Field")
    cases = [
        ({"key": "no_such_field", "value": "x"}, "VALIDATION", "customFields.no_such_field"),
        ({"key": fields["seats"], "value": "many"}, "VALIDATION",
         f"customFields.{fields['seats']}"),
        ({"key": fields["renewal"], "value": "30/06"}, "VALIDATION",
         f"customFields.{fields['renewal']}"),
        ({"key": fields["segment"], "value": "农业"}, "VALIDATION",
         f"customFields.{fields['segment']}"),
        ({"key": fields["channels"], "values": ["fax"]}, "VALIDATION",
         f"customFields.{fields['channels']}"),
    ]  # fmt: skip
    for value, code, field in cases:
        refused = await set_values(gw, cid, [value])
        assert first_error(refused)["extensions"] == {"code": code, "field": field}, value
    assert await profile(gw, cid) == {}


async def test_the_list_filters_on_values(gw: GatewayHarness) -> None:
    fields = await define_fields(gw)  # a fresh set: no other test's customer holds them
    made: dict[str, str] = {}
    for name, segment, seats, renewal, channels in (
        ("a", "制造", "5", "2026-01-31", ["email"]),
        ("b", "零售", "20", "2026-12-31", ["email", "phone"]),
        ("c", "金融", "50", "2027-06-30", ["wechat"]),
    ):
        made[name] = await new_customer(gw, f"Filter {name}")
        await done(
            gw,
            "setCustomFields",
            {
                "customerId": made[name],
                "values": [
                    {"key": fields["segment"], "value": segment},
                    {"key": fields["seats"], "value": seats},
                    {"key": fields["renewal"], "value": renewal},
                    {"key": fields["channels"], "values": channels},
                ],
            },
        )
    seg, seats, renewal = fields["segment"], fields["seats"], fields["renewal"]
    assert await listed(gw, {"key": seg, "equals": "零售"}) == {made["b"]}
    assert await listed(gw, {"key": seg, "in": ["制造", "金融"]}) == {made["a"], made["c"]}
    assert await listed(gw, {"key": fields["channels"], "equals": "email"}) == {
        made["a"],
        made["b"],
    }
    assert await listed(gw, {"key": seats, "min": "10", "max": "50.0"}) == {made["b"], made["c"]}
    assert await listed(gw, {"key": seats, "equals": "20.00"}) == {made["b"]}
    assert await listed(
        gw, {"key": renewal, "max": "2026-12-31"}, {"key": seg, "in": ["零售", "金融"]}
    ) == {made["b"]}
    assert await listed(gw, {"key": renewal}) == set(made.values()), "a key alone: has a value"
    await done(
        gw,
        "setCustomFields",
        {"customerId": made["c"], "values": [{"key": renewal, "value": None}]},
    )
    assert await listed(gw, {"key": renewal}) == {made["a"], made["b"]}, "cleared: no value"
    empty = await gw.gql(LIST, {"f": {"customFields": [{"key": seg, "in": []}]}})
    assert first_error(empty)["extensions"] == {
        "code": "VALIDATION",
        "field": "filter.customFields[0].in",
    }
    text = await gw.gql(LIST, {"f": {"customFields": [{"key": fields["remark"], "equals": "x"}]}})
    assert first_error(text)["extensions"]["code"] == "VALIDATION"
    bad = await gw.gql(LIST, {"f": {"customFields": [{"key": seg, "equals": "农业"}]}})
    assert first_error(bad)["extensions"]["field"] == "filter.customFields[0].equals"


async def test_the_equality_filter_uses_the_gin_index(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    def plan() -> str:
        with psycopg.connect(gw.database_url) as conn:
            conn.execute("SET enable_seqscan = off")
            rows = conn.execute(
                "EXPLAIN SELECT id FROM rm_customers AS c WHERE c.custom_fields @> %s::jsonb",
                [f'{{"{fields["segment"]}": "零售"}}'],
            ).fetchall()
        return "\n".join(str(r[0]) for r in rows)

    assert "rm_customers_custom_fields" in await to_thread.run_sync(plan)


async def test_text_values_are_masked_for_analysts_and_erased_by_forget(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    cid = await new_customer(gw, "Private Field")
    await done(
        gw,
        "setCustomFields",
        {"customerId": cid, "values": [{"key": fields["remark"], "value": "lives at 7 Secret Rd"},
                                        {"key": fields["seats"], "value": "3"}]},
    )  # fmt: skip
    # As the relay publishes it (sealed) and a worker checks it: a valid envelope, not one
    # parked as invalid (its TEXT values, a list in clear, are one sealed string here).
    published = EventSource(gw.deps.app).read_after(0, 100_000).envelopes
    changed = [e for e in published if e["type"] == "crm.customer.custom_fields_changed.v1"]
    assert changed and str(changed[-1]["data"]["texts"]).startswith("sealed:")
    for envelope in changed:
        validate(envelope)
    seen = await profile(gw, cid, role="analyst")
    assert seen[fields["remark"]]["value"] is None and seen[fields["remark"]]["values"] == []
    assert seen[fields["seats"]]["value"] == "3"
    await done(gw, "forgetCustomer", {"customerId": cid, "reason": "request"})
    after = await profile(gw, cid)
    assert fields["remark"] not in after and after[fields["seats"]]["value"] == "3"
    data = await gw.data(ENTRIES, {"id": cid})
    (entry,) = [e["node"] for e in data["customer"]["timeline"]["edges"]]
    # The TEXT change's values are gone; its key stays in the summary, the facts stay.
    assert [c["key"] for c in entry["changes"]] == [fields["seats"]]
    assert fields["remark"] in entry["summary"]

    def stored_texts() -> list[Any]:
        with psycopg.connect(gw.database_url) as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT summary -> 'texts' FROM rm_timeline WHERE customer_id = %s "
                    "UNION ALL SELECT custom_texts FROM rm_customers WHERE id = %s",
                    [cid, cid],
                )
            ]

    assert "Secret" not in repr(await to_thread.run_sync(stored_texts))
    late = await set_values(gw, cid, [{"key": fields["seats"], "value": "4"}])
    assert first_error(late)["extensions"]["code"] == "RULE"


async def test_a_retired_field_keeps_its_values_and_takes_no_new_ones(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    key = f"legacy_{uuid4().hex[:6]}"
    await done(gw, "defineCustomField", {"key": key, "label": "Legacy", "type": "NUMBER"})
    cid = await new_customer(gw, "Retired Field")
    await done(gw, "setCustomFields", {"customerId": cid, "values": [{"key": key, "value": "1"}]})
    await done(gw, "retireCustomField", {"key": key})
    refused = await set_values(gw, cid, [{"key": key, "value": "2"}])
    assert first_error(refused)["extensions"] == {"code": "RULE", "field": f"customFields.{key}"}
    assert (await profile(gw, cid))[key]["value"] == "1"
    data = await gw.data("{ customFields(includeRetired: true) { key retired } }")
    assert {"key": key, "retired": True} in data["customFields"]
    active = await gw.data("{ customFields { key } }")
    assert key not in {d["key"] for d in active["customFields"]}


async def test_values_given_at_registration_are_recorded_with_it(
    gw: GatewayHarness, fields: dict[str, str]
) -> None:
    payload = await done(
        gw,
        "registerCustomer",
        {"name": "Registered With Fields",
         "customFields": [{"key": fields["segment"], "value": "金融"},
                          {"key": fields["channels"], "values": ["email"]}]},
        "customer { id customFields { key value values } }",
    )  # fmt: skip
    shown = {f["key"]: f for f in payload["customer"]["customFields"]}
    assert shown[fields["segment"]]["value"] == "金融"
    assert shown[fields["channels"]]["values"] == ["email"]

    def events() -> int:
        return int(gw.deps.app.recorder.max_notification_id() or 0)

    before = await to_thread.run_sync(events)
    refused = await mutate(
        gw,
        "registerCustomer",
        {"name": "Refused With Fields", "customFields": [{"key": fields["seats"], "value": "x"}]},
    )
    assert first_error(refused)["extensions"] == {
        "code": "VALIDATION",
        "field": f"customFields.{fields['seats']}",
    }
    assert await to_thread.run_sync(events) == before  # no customer without its values
