"""`crm up` with two relays (CRM_RELAYS=2, as `--relays 2`): one leads, one stands by,
and the standby publishes once the leader is killed (issue 18 item 2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from chaos.running import PlatformProcess, running_platform, scratch_data_dir

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformProcess]:
    with scratch_data_dir() as path, running_platform(path, env={"CRM_RELAYS": "2"}) as started:
        started.wait_healthy(timeout=90)
        yield started


def component(platform: PlatformProcess, name: str) -> dict[str, Any]:
    components: dict[str, Any] = platform.health()[1].get("components", {})
    return dict(components.get(name) or {})


def wait_until(condition: Any, timeout: float, what: str, platform: PlatformProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s: {platform.health()}")


def register_and_read(platform: PlatformProcess, name: str) -> dict[str, Any]:
    """A mutation, then a read that waits (`atLeast`) until the relay published it and the
    worker applied it: proof that some relay is publishing."""
    from ops.tokens import mint_token, parse_ttl

    secret = (platform.data_dir / "jwt.secret").read_text().strip()
    token = mint_token(secret, role="sales", subject="relays-test", ttl=parse_ttl("5m"))
    headers = {"Authorization": f"Bearer {token}"}
    register = (
        "mutation($name: String!) { registerCustomer(input: {name: $name}) "
        "{ position customer { id } } }"
    )
    query = "query($id: ID!, $at: Int) { customer(id: $id, atLeast: $at) { name } }"
    with httpx.Client(timeout=60) as client:
        answer = client.post(
            platform.graphql_url,
            json={"query": register, "variables": {"name": name}},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        payload = answer.json()["data"]["registerCustomer"]
        variables = {"id": payload["customer"]["id"], "at": payload["position"]}
        read = client.post(
            platform.graphql_url, json={"query": query, "variables": variables}, headers=headers
        )
    assert read.status_code == 200, read.text
    customer: dict[str, Any] = read.json()["data"]["customer"]
    return customer


RELAYS = ("relay", "relay-2")


def roles(platform: PlatformProcess) -> tuple[str, str] | None:
    """(leader, standby) once one relay leads and the other stands by; which one wins the
    lock is a race between two processes started together."""
    status = {name: component(platform, name).get("status") for name in RELAYS}
    for leader, standby in (RELAYS, RELAYS[::-1]):
        if status[leader] == "ok" and status[standby] == "idle":
            return leader, standby
    return None


def test_one_relay_leads_the_other_stands_by(platform: PlatformProcess) -> None:
    wait_until(
        lambda: roles(platform) is not None, 60, "one relay leading, one standing by", platform
    )
    leader, standby = roles(platform) or RELAYS
    assert "leading" in component(platform, leader)["detail"]
    assert "standby" in component(platform, standby)["detail"]
    assert platform.health()[0] == 200  # a standby is healthy
    assert register_and_read(platform, "Before") == {"name": "Before"}


def test_the_standby_publishes_after_the_leader_is_killed(platform: PlatformProcess) -> None:
    wait_until(
        lambda: roles(platform) is not None, 60, "one relay leading, one standing by", platform
    )
    leader, standby = roles(platform) or RELAYS
    pid = platform.pid(leader)
    psutil.Process(pid).kill()  # kill -9
    wait_until(
        lambda: component(platform, standby).get("status") == "ok",
        30,
        f"{standby} leading",
        platform,
    )
    assert register_and_read(platform, "After") == {"name": "After"}
    # The killed relay comes back (supervisor) and stands by behind the new leader.
    platform.wait_replaced(leader, pid)
    wait_until(
        lambda: component(platform, leader).get("status") == "idle",
        60,
        "the restarted relay standing by",
        platform,
    )
