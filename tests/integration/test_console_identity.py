"""Sign-in asks the API who the token is (`viewer`), in a real headless Chromium, against a
gateway that accepts an identity provider whose role claim is a `roles` list: such a token
signs in with its role's menus (which decoding the token's `role` claim in the page could
not find), a local `crm token` still does, and a token the API refuses is refused at
sign-in with its reason, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gateway.auth import IdentityProvider
from tests.integration.support.browser import ConsoleSite, sign_in
from tests.integration.support.servers import ServerSet
from tests.support.identity_provider import (
    AUDIENCE,
    ISSUER,
    LocalProvider,
    SigningKey,
    served_provider,
)

pytestmark = pytest.mark.integration

KEY = SigningKey.new("rsa-console")
STORED = """({ token: sessionStorage.getItem("crm-token"),
    viewer: sessionStorage.getItem("crm-viewer") })"""


@pytest.fixture(scope="module")
def provider() -> Iterator[LocalProvider]:
    with served_provider(KEY) as served:
        yield served


@pytest.fixture(scope="module")
def site(servers: ServerSet, provider: LocalProvider) -> Iterator[ConsoleSite]:
    """The conftest's site, its gateway also accepting the provider's tokens."""
    identity = IdentityProvider(
        jwks_url=provider.url, issuer=ISSUER, audience=AUDIENCE, role_claim="roles"
    )
    started = ConsoleSite.start(servers, identity=identity)
    try:
        yield started
    finally:
        started.stop()


def provider_token(provider: LocalProvider, subject: str, role: str, **claims: Any) -> str:
    return provider.token(KEY, subject=subject, role=[role], role_claim="roles", **claims)


def paste(page: Page, token: str) -> None:
    page.get_by_label("访问令牌").fill(token)
    page.get_by_role("button", name="登录").click()


def test_a_provider_token_signs_in_with_the_menus_of_its_roles_claim(
    page: Page, site: ConsoleSite, provider: LocalProvider
) -> None:
    page.goto(site.origin + "/")
    paste(page, provider_token(provider, "mei@corp.example", "compliance"))
    expect(page.locator("#nav-compliance")).to_be_visible()
    expect(page.locator("#nav-dashboard")).to_be_visible()
    expect(page.locator("#nav-myTasks")).to_have_count(0)
    expect(page.locator("header .who")).to_contain_text("mei@corp.example")
    # A reload uses the stored viewer: the page asks the API nothing about the token.
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    page.reload()
    expect(page.locator("#nav-compliance")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert not [body for body in posted if "viewer" in body], posted

    # Another role of the same provider gets that role's menus, not the last one's.
    page.get_by_role("button", name="退出").click()
    paste(page, provider_token(provider, "ida@corp.example", "sales"))
    expect(page.locator("#nav-myTasks")).to_be_visible()
    expect(page.locator("#nav-forms")).to_be_visible()
    expect(page.locator("#nav-compliance")).to_have_count(0)
    expect(page.locator("#nav-dashboard")).to_have_count(0)
    expect(page.locator("header .who")).to_contain_text("ida@corp.example")

    # A local `crm token` signs in through the same path beside the provider.
    page.get_by_role("button", name="退出").click()
    sign_in(page, site, "analyst", "an.li")
    expect(page.locator("#nav-dashboard")).to_be_visible()
    expect(page.locator("#nav-forms")).to_have_count(0)
    expect(page.locator("#nav-compliance")).to_have_count(0)


def test_a_token_stored_without_its_viewer_is_asked_about_on_load(
    page: Page, site: ConsoleSite, provider: LocalProvider
) -> None:
    """As when the token was typed into the GraphiQL page, which shares `crm-token`."""
    page.goto(site.origin + "/")
    token = provider_token(provider, "mei@corp.example", "compliance")
    page.evaluate("(token) => sessionStorage.setItem('crm-token', token)", token)
    page.reload()
    expect(page.locator("#nav-compliance")).to_be_visible()
    stored = page.evaluate(STORED)
    assert stored["token"] == token and '"role":"compliance"' in stored["viewer"]


def test_a_token_the_api_refuses_is_refused_at_sign_in_and_not_stored(
    page: Page, site: ConsoleSite, provider: LocalProvider
) -> None:
    refused = {
        "TOKEN_WRONG_AUDIENCE": provider_token(provider, "x@corp", "sales", audience="other-api"),
        "TOKEN_UNKNOWN_KEY": provider.token(
            SigningKey.new("rsa-unknown"), role=["sales"], role_claim="roles"
        ),
        "TOKEN_EXPIRED": provider_token(provider, "x@corp", "sales", ttl=timedelta(minutes=-5)),
        # A role the page could read from a `role` claim, but this provider's is `roles`.
        "TOKEN_UNKNOWN_ROLE": provider.token(KEY, role="compliance"),
    }
    page.goto(site.origin + "/")
    for reason, token in refused.items():
        paste(page, token)
        expect(page.locator("#signin-error")).to_contain_text(reason)
        expect(page.locator("header nav")).to_have_count(0)
        assert page.evaluate(STORED) == {"token": None, "viewer": None}, reason
    # The sign-in form still works afterwards, and the refusal is gone.
    paste(page, provider_token(provider, "mei@corp.example", "compliance"))
    expect(page.locator("#nav-compliance")).to_be_visible()
    expect(page.locator("#signin-error")).to_have_count(0)
