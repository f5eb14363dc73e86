"""Test support for the console in a real headless Chromium (Debian's `chromium`).

`ConsoleSite` serves the whole gateway (GraphQL + the console's files) with uvicorn on a
free port, over a fresh database, with the outbox relay publishing to the broker in a
thread so live subscriptions work as in `crm up`. `Browser` drives Chromium through
Playwright (pointed at /usr/bin/chromium: no browser download) and blocks, and records,
every request that is not for the gateway.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from playwright.sync_api import BrowserContext, Page, Playwright, Request, Route, WebSocket
from starlette.applications import Starlette

from bench.console_bench import CHROMIUM as CHROMIUM_PATH
from bench.console_bench import CHROMIUM_ARGS
from gateway.auth import IdentityProvider
from gateway.console import console_routes
from streams.relay import Relay
from streams.topic import ensure_topic
from tests.integration.support.gateway import OWNER, GatewayHarness
from tests.integration.support.servers import ServerSet

CHROMIUM = Path(CHROMIUM_PATH)  # the same executable and flags the console bench uses
SCREENS = Path(__file__).resolve().parents[2] / "results" / "screens"
TIMEZONE = "Asia/Shanghai"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ConsoleSite:
    """The gateway with its console on `origin`, and a relay feeding live events."""

    gw: GatewayHarness
    origin: str
    server: uvicorn.Server
    relay: Relay
    database_url: str
    threads: list[threading.Thread] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, servers: ServerSet, identity: IdentityProvider | None = None) -> ConsoleSite:
        """`identity`: an identity provider whose tokens the gateway accepts too."""
        url = servers.new_database()
        topic = servers.new_topic()
        ensure_topic(servers.kafka_bootstrap, topic, 1)
        gw = GatewayHarness.start(
            url, kafka_bootstrap=servers.kafka_bootstrap, topic=topic, identity=identity
        )
        port = free_port()
        app = Starlette(routes=[*gw.graphql.routes, *console_routes(TIMEZONE)])
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        relay = Relay(gw.deps.app, url, servers.kafka_bootstrap, topic, partitions=1)
        site = cls(gw, f"http://127.0.0.1:{port}", server, relay, url)
        site._thread(server.run, "uvicorn-console")
        site._thread(site._relay_loop, "relay-console")
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return site

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _relay_loop(self) -> None:
        # What `crm relay` does: publish what was recorded, shortly after it was.
        while not self.stopping.is_set():
            self.relay.publish_available()
            self.stopping.wait(0.1)

    def token(self, role: str, subject: str | None = None) -> str:
        return self.gw.token(role, subject)

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Answer of a GraphQL request as admin over HTTP (setting up a test's data)."""
        response = httpx.post(
            f"{self.origin}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.gw.headers("admin", "test-setup"),
            timeout=30,
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def register(self, name: str, **fields: Any) -> str:
        """A customer owned by the test team's `OWNER` (every signed-in test subject's
        teammate) unless `owner` is given."""
        data = self.data(
            "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) "
            "{ customer { id } } }",
            {"i": {"name": name, "owner": OWNER, **fields}},
        )
        customer_id: str = data["registerCustomer"]["customer"]["id"]
        return customer_id

    def stop(self) -> None:
        self.stopping.set()
        self.server.should_exit = True
        for thread in self.threads:
            thread.join(10)
        self.relay.close()
        self.gw.sync.close()
        self.gw.deps.close()


@dataclass
class Guard:
    """Every request a browser context made that was not for the gateway (all aborted),
    and every uncaught error of its pages' scripts."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("websocket", self.websocket)
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def route(self, route: Route, request: Request) -> None:
        if request.url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.foreign.append(request.url)
            route.abort()

    def websocket(self, socket: WebSocket) -> None:
        ws_origin = self.origin.replace("http://", "ws://", 1)
        if not socket.url.startswith(ws_origin + "/"):
            self.foreign.append(socket.url)


def new_context(playwright_browser: Any, site: ConsoleSite) -> tuple[BrowserContext, Guard]:
    """A fresh browser context (its own sessionStorage) that may reach only the gateway."""
    context: BrowserContext = playwright_browser.new_context(
        viewport={"width": 1400, "height": 900}, locale="zh-CN", timezone_id="UTC"
    )
    context.set_default_timeout(15_000)
    guard = Guard(site.origin)
    context.route("**/*", guard.route)
    context.on("page", guard.watch)
    return context, guard


def launch(playwright: Playwright) -> Any:
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install chromium"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def sign_in(page: Page, site: ConsoleSite, role: str, subject: str | None = None) -> None:
    page.goto(site.origin + "/")
    page.get_by_label("访问令牌").fill(site.token(role, subject))
    page.get_by_role("button", name="登录").click()
    page.locator("header nav").wait_for()


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
    .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 120))"""


def screenshot(page: Page, name: str, *, check_labels: bool = True) -> Path:
    """A picture of the screen for tests/results/screens/, after checking that every
    control on it has a label (forms are usable with a screen reader and the keyboard)."""
    page.wait_for_load_state("networkidle")
    if check_labels:
        unlabelled = page.evaluate(UNLABELLED)
        assert unlabelled == [], f"controls without a label on {name}: {unlabelled}"
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
