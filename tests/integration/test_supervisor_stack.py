"""`crm up` for real: embedded servers, every component, healing.

One platform serves the whole module; the tests that start and stop a platform of their
own are in `test_supervisor_stop.py`, so that they never share the two cores with it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from chaos.running import PlatformProcess, running_platform, scratch_data_dir
from tests.integration.support.stack import COMPONENTS, HEALTHY_WITHIN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformProcess]:
    """One embedded platform shared by the healing tests of this module."""
    with scratch_data_dir() as path, running_platform(path) as started:
        started.wait_healthy(timeout=90)
        yield started


def heal(platform: PlatformProcess, component: str) -> int:
    """kill -9 one child; return its new pid once /healthz is 200 again."""
    old = platform.pid(component)
    psutil.Process(old).kill()
    new = platform.wait_replaced(component, old)
    platform.wait_healthy(timeout=60)
    assert new != old
    return new


def test_up_is_healthy_within_30_seconds(platform: PlatformProcess) -> None:
    assert platform.healthy_after is not None
    assert platform.healthy_after < HEALTHY_WITHIN, platform.output()
    assert f"GraphQL: {platform.graphql_url}" in platform.output()


def test_every_process_logs_json_lines(platform: PlatformProcess) -> None:
    """docs/observability.md: every process writes one JSON object per line (the workers
    wrote faust's own text format, with terminal escapes). Checked before the healing
    tests below kill anything: a process killed mid-write may leave half a line."""
    import json

    logs = sorted((platform.data_dir / "logs").glob("*.log"))
    written = {path.name: path.read_text(errors="replace").splitlines() for path in logs}
    workers = [name for name, lines in written.items() if name.startswith("worker-") and lines]
    assert workers, f"no worker wrote a line yet: {sorted(written)}"
    for name, lines in written.items():
        if name.startswith(("gateway", "relay", "worker")):
            for line in lines:
                try:
                    parsed = json.loads(line)
                except ValueError:
                    parsed = None
                assert isinstance(parsed, dict), (name, line)


def test_healthz_names_every_component_honestly(platform: PlatformProcess) -> None:
    code, body = platform.health()
    assert code == 200
    components = body["components"]
    assert COMPONENTS | {"postgres", "kafka", "supervisor", "database", "broker"} <= set(components)
    # Two relays by default: whichever won the lock publishes, the other stands by.
    relays = {name: components[name] for name in ("relay", "relay-2")}
    leading = [c for c in relays.values() if c["status"] == "ok"]
    assert len(leading) == 1, relays
    assert "published up to position" in leading[0]["detail"]
    assert [c["status"] for c in relays.values()].count("idle") == 1, relays
    assert components["worker-projections"]["status"] in {"ok", "starting"}
    assert components["worker-analytics"]["status"] in {"ok", "starting"}
    assert components["worker-lifecycle"]["status"] in {"ok", "starting"}
    assert components["gateway"]["status"] == "ok"
    assert "/graphql" in components["gateway"]["detail"]
    assert components["database"]["status"] == "ok"


def test_a_mutation_reaches_the_read_models_through_kafka(platform: PlatformProcess) -> None:
    """End to end on the running platform: GraphQL → event store → relay → Kafka →
    worker → read model → GraphQL, with read-your-writes through `atLeast`."""
    import httpx

    from ops.tokens import mint_token, parse_ttl

    secret = (platform.data_dir / "jwt.secret").read_text().strip()
    token = mint_token(secret, role="sales", subject="stack-test", ttl=parse_ttl("5m"))
    headers = {"Authorization": f"Bearer {token}"}
    register = """mutation { registerCustomer(input: {name: "Li Lei", email: "li.lei@example.com",
        region: "华东"}) { position customer { id } } }"""
    with httpx.Client(timeout=30) as client:
        answer = client.post(platform.graphql_url, json={"query": register}, headers=headers)
        assert answer.status_code == 200, answer.text
        payload = answer.json()["data"]["registerCustomer"]
        query = """query($id: ID!, $at: Int) { customer(id: $id, atLeast: $at) {
            name email region stage lifecycleStage tier } }"""
        variables = {"id": payload["customer"]["id"], "at": payload["position"]}
        read = client.post(
            platform.graphql_url, json={"query": query, "variables": variables}, headers=headers
        )
        unauthenticated = client.post(platform.graphql_url, json={"query": query})
    assert read.status_code == 200, read.text
    assert read.json()["data"]["customer"] == {
        "name": "Li Lei",
        "email": "li.lei@example.com",
        "region": "华东",
        "stage": "LEAD",
        "lifecycleStage": "PROSPECT",
        "tier": "BRONZE",
    }
    assert unauthenticated.status_code == 401


def test_the_analytics_catalog_follows_the_running_platform(platform: PlatformProcess) -> None:
    """An analyst opens the catalog read-only while the platform runs and sees every event."""
    import duckdb
    import httpx

    from ops.tokens import mint_token, parse_ttl

    secret = (platform.data_dir / "jwt.secret").read_text().strip()
    token = mint_token(secret, role="sales", subject="stack-test", ttl=parse_ttl("5m"))
    register = """mutation { registerCustomer(input: {name: "Han Meimei",
        email: "han.meimei@example.com", source: "web"}) { position } }"""
    answer = httpx.post(
        platform.graphql_url,
        json={"query": register},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    endpoints = platform.endpoints()
    catalog = Path(endpoints["analytics"]["duckdb"])
    deadline = time.monotonic() + 60
    while not catalog.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    analyst = duckdb.connect(str(catalog), read_only=True)
    with psycopg.connect(endpoints["database"]) as conn:
        newest = conn.execute("SELECT coalesce(max(notification_id), 0) FROM stored_events")
        recorded = (newest.fetchone() or (0,))[0]
    seen = -1
    while time.monotonic() < deadline:
        seen = (analyst.execute("SELECT count(*) FROM events").fetchone() or (0,))[0]
        if seen >= recorded:
            break
        time.sleep(0.3)
    assert seen == recorded >= 1
    sources = analyst.execute("SELECT source FROM customers WHERE source = 'web'").fetchall()
    assert sources == [("web",)]
    analyst.close()


def test_endpoints_file(platform: PlatformProcess) -> None:
    endpoints = platform.endpoints()
    assert endpoints["graphql"] == platform.graphql_url
    assert endpoints["kafka"]["topic"] == "crm.events"
    assert endpoints["analytics"]["duckdb"].endswith("analytics.duckdb")
    with psycopg.connect(endpoints["database"], connect_timeout=3) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("crm",)
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=endpoints["kafka"]["bootstrap"])
    try:
        assert "crm.events" in admin.list_topics()
    finally:
        admin.close()


def test_local_secrets_are_generated_into_the_data_folder(platform: PlatformProcess) -> None:
    import base64

    for name in ("jwt.secret", "master.key"):
        assert (platform.data_dir / name).stat().st_mode & 0o777 == 0o600
    key = base64.b64decode((platform.data_dir / "master.key").read_text().strip(), validate=True)
    assert len(key) == 32


def test_each_child_command_line_names_it(platform: PlatformProcess) -> None:
    commands = {
        name: " ".join(psutil.Process(platform.pid(name)).cmdline())
        for name in [*COMPONENTS, "postgres", "kafka"]
    }
    assert "crm gateway" in commands["gateway"]
    assert "crm relay" in commands["relay"]
    assert "crm worker projections" in commands["worker-projections"]
    assert "postgres -D" in commands["postgres"]
    assert "tansu" in commands["kafka"] and "broker" in commands["kafka"]


def test_a_second_up_on_the_same_folder_is_refused(platform: PlatformProcess) -> None:
    import subprocess

    from chaos.running import clean_env, crm_argv

    result = subprocess.run(
        crm_argv("up", "--data-dir", str(platform.data_dir), "--port", "0"),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: CRM_DATA_DIR: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert platform.health()[0] == 200


def test_kill_9_of_the_gateway_is_healed(platform: PlatformProcess) -> None:
    heal(platform, "gateway")


def test_kill_9_of_a_worker_is_healed(platform: PlatformProcess) -> None:
    heal(platform, "worker-projections")


def test_kill_9_of_postgres_is_healed_and_keeps_data(platform: PlatformProcess) -> None:
    url = platform.endpoints()["database"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survives_kill (v text)")
        conn.execute("INSERT INTO survives_kill VALUES ('kept')")
    heal(platform, "postgres")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT v FROM survives_kill").fetchall() == [("kept",)]


def test_kill_9_of_kafka_is_healed_and_the_topic_is_back(platform: PlatformProcess) -> None:
    heal(platform, "kafka")
    from kafka import KafkaAdminClient

    bootstrap = platform.endpoints()["kafka"]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap["bootstrap"])
    try:
        assert bootstrap["topic"] in admin.list_topics()
    finally:
        admin.close()


def test_metrics_count_every_gateways_requests_whichever_answers(
    platform: PlatformProcess,
) -> None:
    """`crm up` runs several gateways on one port: each scrape, answered by any of them,
    sums all of them (prometheus_client's multiprocess mode)."""
    import re

    import httpx

    from ops.tokens import mint_token, parse_ttl

    secret = (platform.data_dir / "jwt.secret").read_text().strip()
    token = mint_token(secret, role="analyst", subject="metrics-test", ttl=parse_ttl("5m"))
    base = platform.graphql_url.removesuffix("/graphql")
    name = "MetricsEveryGateway"
    pattern = re.compile(rf'crm_graphql_request_seconds_count{{operation="{name}"[^}}]*}} (\S+)')
    for _ in range(12):  # a connection each: spread over the gateways
        answer = httpx.post(
            platform.graphql_url,
            json={"query": f"query {name} {{ __typename }}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    scrapes = [httpx.get(f"{base}/metrics", timeout=30).text for _ in range(6)]
    counts = {sum(float(v) for v in pattern.findall(scraped)) for scraped in scrapes}
    assert counts == {12.0}, counts
