"""`crm bench all` runs for real, on the session's servers and tiny sizes; only the
SHAPE of what it writes is checked (files, keys, counts, targets), never its speed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rich.console import Console

from bench import BENCHMARKS, BenchRequest
from bench.cpu import postmaster, tree_cpu_seconds
from bench.suite import run_suite, written
from tests.integration.support.servers import ServerSet
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration

ROW_KEYS = {
    "scenario",
    "measure",
    "value",
    "unit",
    "baseline",
    "ratio",
    "p50_ms",
    "p99_ms",
    "target",
    "met",
}


def check_scenario(name: str, doc: dict[str, Any]) -> None:
    assert doc["benchmark"] == name and doc["size"] == "tiny"
    assert doc["summary"], name
    for line in doc["summary"]:
        assert set(line) == ROW_KEYS - {"scenario"}
        assert isinstance(line["value"], float | int)
        if line["baseline"] is not None:
            assert line["baseline"] > 0 and line["ratio"] is not None
    for goal in doc["targets"].values():
        assert set(goal) == {"target", "measured", "met"} and isinstance(goal["met"], bool)


def check_results(doc: dict[str, Any]) -> None:
    s = doc["scenarios"]
    e2e = s["end_to_end"]["results"]
    config = s["end_to_end"]["config"]
    assert e2e["mutations"]["commands"] == config["operations"] * config["repeats"]
    assert e2e["lag"]["seen"] == e2e["lag"]["events"] > 0 and e2e["lag"]["unseen"] == 0
    # each part's CPU per mutation over HTTP, and the plain loop's own
    assert {"gateway", "relay", "worker-projections", "PostgreSQL", "load generator"} <= set(
        e2e["mutations"]["cpu_ms_per_command"]
    )
    assert e2e["mutations"]["cpu_ms_per_command"]["gateway"] > 0
    assert e2e["baseline"]["cpu_ms_per_command"]["plain loop"] > 0
    streams = s["streams"]["results"]
    events = streams["seeded"]["events"]
    assert events > 0
    # The relay published, the rebuild replayed, and raw Kafka moved, every seeded event.
    for name in ("relay", "rebuild", "raw_produce", "raw_consume"):
        assert streams[name]["events"] == events, name
    for name in ("typename", "profile_360", "list"):
        assert s["gateway"]["results"][name]["requests"] > 0
        cpu = s["gateway"]["results"][name]["cpu_ms_per_request"]
        assert cpu["gateway"] > 0 and cpu["load generator"] > 0, cpu
    # the server runs on this host here: a list page's statements cost it CPU
    assert s["gateway"]["results"]["list"]["cpu_ms_per_request"]["PostgreSQL"] > 0
    for name in ("profile_360", "list"):  # the target rate's CPU, against this machine's
        budget = s["gateway"]["results"][name]["budget_at_target"]
        assert budget["machine_cores"] == len(os.sched_getaffinity(0))
        cpu = s["gateway"]["results"][name]["cpu_ms_per_request"]
        at = budget["rate"] / 1000
        assert budget["cores_needed"] == pytest.approx(sum(cpu.values()) * at, abs=0.02)
        assert budget["single_cores"]["gateway"] == pytest.approx(cpu["gateway"] * at, abs=0.01)
        others = sum(cpu.values()) - cpu["gateway"]
        room = max(0.0, min(1.0, budget["machine_cores"] - others * at)) / at
        assert budget["room_ms"] == pytest.approx(room, abs=0.02)
    gateways = s["gateways"]
    shape = gateways["config"]
    for count in (1, 2):
        measured = gateways["results"][f"gateways_{count}"]
        assert measured["queries"]["requests"] == shape["queries"] * shape["repeats"]
        assert measured["mutations"]["commands"] == shape["mutations"] * shape["repeats"]
        # one CPU figure per gateway process per run: 2 processes really served the 2 case
        assert [len(run) for run in measured["gateway_cpu_s_per_run"]] == [count] * shape["repeats"]
    assert set(gateways["results"]["speedup"]) == {"mutations", "queries"}
    assert [line["baseline"] is None for line in gateways["summary"]] == [True, False] * 2
    points = s["scale"]["results"]["points"]
    assert [p["events"] for p in points] == sorted(p["events"] for p in points)
    assert all(p["bytes_per_event"] > 0 and p["rebuild_seconds"] > 0 for p in points)
    assert s["scale"]["results"]["extrapolated"]["to_events"] == 20_000_000
    by_customers = s["scale"]["results"]["customers"]
    assert [p["customers"] for p in by_customers] == [1_000, 3_000]
    assert all(p["query_ms"]["list_tier_total"]["p99"] > 0 for p in by_customers)
    analytics = s["analytics"]["results"]
    assert analytics["rows"]["events"] == s["analytics"]["config"]["events"]
    queries = analytics["queries"]
    assert set(queries) == {"funnel", "cohorts", "rfm"}
    assert queries["funnel"]["duckdb"]["result_size"] == 7  # one row per pipeline stage
    assert (
        queries["rfm"]["duckdb"]["result_size"] > 0
        and queries["rfm"]["postgres"]["result_size"] > 0
    )
    compliance = s["compliance"]["results"]
    assert compliance["verify_events_per_s"]["median"] > 0
    assert compliance["replay_customer"]["events"] >= s["compliance"]["config"]["customer_events"]
    console = s["console"]
    first_screen = console["results"]["first_screen_ms"]["runs"]
    assert len(first_screen) == console["config"]["repeats"] and min(first_screen) > 0
    warm = console["results"]["warm_first_screen_ms"]["runs"]
    assert len(warm) == len(first_screen) and min(warm) > 0
    stages = console["results"]["cold_breakdown"]["median_ms"]
    assert stages["query_sent"] > 0 and stages["interactive"] >= stages["rows_in_dom"] > 0
    assert console["results"]["loadavg_before"]


# Every scenario, a `crm up` (recovery) and a browser (console) included: more than the
# default 300 s on a busy 2-core machine.
@pytest.mark.timeout(900)
def test_bench_all_on_tiny_sizes_writes_json_markdown_charts_and_a_table(
    servers: ServerSet, tmp_path: Path
) -> None:
    console = Console(record=True, width=200)
    request = BenchRequest(
        quick=True,
        tiny=True,
        out_dir=tmp_path,
        database_url=servers.database_url,
        kafka_bootstrap=servers.kafka_bootstrap,
        console=console,
    )
    doc, paths = run_suite(list(BENCHMARKS), request)

    assert set(doc["scenarios"]) == set(BENCHMARKS)
    for name, scenario in doc["scenarios"].items():
        if name != "commands":  # its own test checks its shape
            check_scenario(name, scenario)
    check_results(doc)
    assert {line["scenario"] for line in doc["summary"]} == set(BENCHMARKS)
    assert len(doc["machine"]["loadavg_before"]) == 3

    files = written(paths)
    assert all(p.exists() and p.stat().st_size > 0 for p in files)
    assert paths["json"].name.endswith("Z.json")  # all benchmarks: `<stamp>.json`
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(doc))
    assert {p.name.rsplit("-", 1)[-1] for p in paths["charts"]} == {
        "ratios.png",
        "latency.png",
        "scale.png",
    }
    markdown = paths["markdown"].read_text()
    assert "| scenario | measure |" in markdown and "EXTRAPOLATED" in markdown
    assert "- gateway: list query (page of 20, filters) at " in markdown
    assert "- gateway: list query (page of 20, filters), 50% of the baseline, at " in markdown
    assert "- end_to_end: GraphQL mutations over HTTP at " in markdown
    assert "- commands: single path, group commit (" in markdown
    text = console.export_text()
    assert "crm bench (tiny)" in text and "target end_to_end.lag_p99_ms" in text


def test_the_postgresql_server_on_this_host_is_found_and_its_cpu_counted(
    database_url: str,
) -> None:
    server = postmaster(database_url)
    assert server is not None and "postgres" in server.name()
    before = tree_cpu_seconds(server)
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
    # counted after the connection closed too, once the server reaped its backend
    wait_for(lambda: tree_cpu_seconds(server) > before + 0.05, timeout=10)
