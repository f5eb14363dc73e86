"""The console's first load in a real headless Chromium: what the browser fetches, and
how often. Fails when the delivery that makes the first screen fast breaks (a module
fetched under two URLs because the import map missed it, the list's query sent twice or
not ahead, a warm visit fetching files again, another screen's code loaded up front).
Never on timing: that is `crm bench console`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Request

from bench.console_bench import signed_in_script
from tests.integration.support.browser import ConsoleSite, new_context

pytestmark = pytest.mark.integration

ROWS = "table.list tbody tr[data-customer]"


def signed_in(context: Any, site: ConsoleSite) -> None:
    """Every page of the context opens signed in, as the sign-in form left the tab (the
    token and the API's `viewer` of it: the one request sign-in makes is not a load's)."""
    context.add_init_script(signed_in_script(site.origin, site.token("sales")))


@pytest.fixture(scope="module")
def site(site: ConsoleSite) -> ConsoleSite:
    """The conftest's site, with one customer for the list to show."""
    site.register("林晓峰", email="xiaofeng@example.com")
    return site


def test_a_first_visit_fetches_each_file_once_and_the_list_query_once_ahead(
    browser: Any, site: ConsoleSite
) -> None:
    # No request routing here (it turns the browser's cache off): every URL is recorded
    # and checked to be the gateway's instead.
    context = browser.new_context()
    errors: list[str] = []
    context.on("page", lambda p: p.on("pageerror", lambda e: errors.append(str(e))))
    signed_in(context, site)
    page = context.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(site.origin + "/#/customers")
    page.locator(ROWS).first.wait_for()
    shown = list(requests)
    page.wait_for_load_state("networkidle")  # the other screens' code, after the list

    files = [urlsplit(r.url) for r in shown if urlsplit(r.url).path.startswith("/static/")]
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)), f"a file fetched twice: {sorted(paths)}"
    assert all(f.query.startswith("v=") for f in files), [f.geturl() for f in files]
    queries = [r for r in shown if urlsplit(r.url).path == "/graphql"]
    assert len(queries) == 1 and "customers(" in (queries[0].post_data or "")
    assert page.evaluate("performance.getEntriesByName('crm:first-query-sent').length") == 1
    # The other screens' code is fetched too, but only once the list's answer is in.
    everything = [urlsplit(r.url).path for r in requests]
    assert everything.index("/static/js/screens/board.js") > everything.index("/graphql")

    # A visit again: the versioned files come from the cache; nothing is even revalidated.
    second = context.new_page()
    second.goto(site.origin + "/#/customers")
    second.locator(ROWS).first.wait_for()
    sizes = second.evaluate(
        "performance.getEntriesByType('resource')"
        ".filter((e) => e.name.includes('/static/')).map((e) => e.transferSize)"
    )
    assert sizes and all(size == 0 for size in sizes), sizes
    context.close()
    assert all(r.url.startswith(site.origin + "/") for r in requests) and errors == []


def test_a_deep_link_to_another_screen_loads_it_on_demand(browser: Any, site: ConsoleSite) -> None:
    """The board is not in the first screen's graph: opened directly, it loads then."""
    context, guard = new_context(browser, site)
    signed_in(context, site)
    page = context.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(site.origin + "/#/board")
    page.locator(".column").first.wait_for()
    assert page.evaluate("performance.getEntriesByName('crm:first-query-sent').length") == 0
    assert "/static/js/screens/board.js" in [urlsplit(r.url).path for r in requests]
    context.close()
    assert guard.foreign == [] and guard.script_errors == []


def test_a_visit_asks_for_no_missing_icon_and_logs_no_error(
    browser: Any, site: ConsoleSite
) -> None:
    """The browser asked for /favicon.ico, the gateway answered 404, and every session's
    console showed that error. (No request routing: Chromium asks for no icon then.)"""
    context = browser.new_context()
    signed_in(context, site)
    page = context.new_page()
    logged: list[str] = []
    page.on("console", lambda m: m.type == "error" and logged.append(m.text))
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.goto(site.origin + "/#/customers")
    page.locator(ROWS).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # the icon is asked for after the load
    page.goto(site.origin + "/graphql")  # a page without the console's icon link
    page.locator(".graphiql-container").wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    context.close()
    assert failed == [] and logged == [], (failed, logged)
