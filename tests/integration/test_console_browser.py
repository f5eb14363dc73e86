"""The web console in a real headless Chromium, against the real gateway, database,
broker and relay. Every request not for the gateway is blocked, and none may be tried.
Screenshots of every screen go to tests/results/screens/. The fixtures `site`, `browser`
and `page` are in conftest.py (test_console_daily_work.py uses them too)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from compliance.export import verify_export
from tests.integration.support.browser import (
    TIMEZONE,
    ConsoleSite,
    new_context,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.integration


def card(page: Page, customer_id: str) -> Any:
    return page.locator(f'.board-card[data-customer="{customer_id}"]')


def column(page: Page, stage: str) -> Any:
    return page.locator(f'.column[data-stage="{stage}"]')


def drag(page: Page, customer_id: str, stage: str) -> None:
    """Drag a card by its edge (its middle holds the keyboard controls) onto a column."""
    card(page, customer_id).drag_to(column(page, stage), source_position={"x": 4, "y": 4})


def test_search_open_the_profile_move_on_the_board_and_the_timeline_gains_it(
    page: Page, site: ConsoleSite
) -> None:
    customer = site.register("林晓峰", email="xiaofeng@example.com", company="青松贸易")
    site.register("Someone Else", email="else@example.com")
    sign_in(page, site, "sales", "li.na")
    screenshot(page, "customers")
    page.get_by_label("搜索", exact=True).fill("晓峰")
    page.get_by_role("button", name="搜索").click()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("xiaofeng@example.com")
    rows.first.get_by_role("link").click()
    expect(page.locator("#profile-title")).to_have_text("林晓峰")
    expect(page).to_have_url(re.compile(f"#/customers/{customer}$"))
    expect(page.locator("#profile-stage")).to_have_text("线索")
    timeline = page.locator("#timeline li")
    expect(timeline).to_have_count(1)
    expect(timeline.first).to_have_attribute("data-kind", "REGISTERED")
    screenshot(page, "profile")

    page.locator("#nav-board").click()
    drag(page, customer, "CONTACTED")
    expect(column(page, "CONTACTED").locator(f'[data-customer="{customer}"]')).to_be_visible()
    card(page, customer).get_by_role("link").click()
    expect(page.locator("#profile-stage")).to_have_text("已联系")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_have_attribute("data-kind", "STAGE_MOVE")
    expect(timeline.first).to_contain_text("li.na")


def live_feed_subscribed(site: ConsoleSite, page: Page, customer: str, before: Any = ()) -> Any:
    """Until the gateway holds a live subscription to `customer` (the profile's feed) other
    than those in `before`, its broker consumer at the topic's end: an event published
    earlier would reach no one. The subscriptions held, for a later call's `before`.
    Waits through `page.wait_for_timeout`, as test_console_daily_work.py explains."""
    live = site.gw.deps.live
    assert live is not None
    deadline = time.monotonic() + 60
    while True:
        mine = {s for s in live.subscribers if str(s.customer_id) == customer}
        if live.ready and mine - set(before):
            return mine
        assert time.monotonic() < deadline, "the profile's live feed did not subscribe"
        page.wait_for_timeout(200)


def test_the_timeline_and_live_feed_read_in_the_users_language(
    page: Page, site: ConsoleSite
) -> None:
    """The timeline showed the API's kind codes (TOUCH, STAGE_MOVE) and English summaries,
    a task's due time as a UTC ISO string ("due 2026-12-20T02:30:00+00:00"), and the live
    feed the raw event type (crm.customer.contact_touch_recorded.v3), on Chinese screens."""
    customer = site.register("欧阳明", email="mingyang@example.com")
    site.data(
        "mutation($i: RecordContactTouchInput!) { recordContactTouch(input: $i) "
        "{ customer { id } } }",
        {"i": {"customerId": customer, "channel": "MEETING", "direction": "OUTBOUND"}},
    )
    site.data(
        "mutation($i: MoveStageInput!) { moveStage(input: $i) { customer { id } } }",
        {"i": {"customerId": customer, "to": "CONTACTED"}},
    )
    site.data(
        "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) { customer { id } } }",
        {
            "i": {
                "customerId": customer,
                "orderId": "T-1",
                "lines": [{"sku": "A", "quantity": 2, "unitPrice": "1234.50"}],
                # Last month's: this month's revenue is the dashboard test's to count.
                "occurredAt": (datetime.now(UTC) - timedelta(days=40)).isoformat(),
            }
        },
    )
    # Due at 02:30 UTC: 10:30 on the deployment zone's (Asia/Shanghai) clock.
    due = (datetime.now(UTC) + timedelta(days=15)).replace(
        hour=2, minute=30, second=0, microsecond=0
    )
    site.data(
        "mutation($i: ScheduleTaskInput!) { scheduleTask(input: $i) { task { id } } }",
        {
            "i": {
                "customerId": customer,
                "kind": "CALL_BACK",
                "title": "回电确认",
                "assignee": "li.na",
                "dueAt": due.isoformat(),
            }
        },
    )
    sign_in(page, site, "sales", "li.na")
    page.goto(f"{site.origin}/#/customers/{customer}")
    timeline = page.locator("#timeline")
    entries = timeline.locator("li")
    expect(entries).to_have_count(5)
    entry = {
        kind: timeline.locator(f'li[data-kind="{kind}"]')
        for kind in ("TOUCH", "STAGE_MOVE", "PURCHASE", "TASK", "REGISTERED")
    }
    expect(entry["TOUCH"]).to_contain_text("联系")
    expect(entry["TOUCH"]).to_contain_text("我方主动联系（会议）")
    expect(entry["STAGE_MOVE"]).to_contain_text("阶段变更")
    expect(entry["STAGE_MOVE"]).to_contain_text("线索 → 已联系")
    expect(entry["PURCHASE"]).to_contain_text("订单 T-1：¥2,469.00")
    expect(entry["TASK"]).to_contain_text("已安排回电")
    expect(entry["TASK"]).to_contain_text("10:30")
    expect(entry["REGISTERED"]).to_contain_text("登记为客户")
    for raw in ("TOUCH", "STAGE_MOVE", "PURCHASE", "CALL_BACK", "+00:00", "touch", "Stage"):
        expect(timeline).not_to_contain_text(raw)
    expect(timeline).not_to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"))

    # Another change arrives live: the feed names it in Chinese, not by its event type.
    held = live_feed_subscribed(site, page, customer)
    site.data(
        "mutation($i: RecordContactTouchInput!) { recordContactTouch(input: $i) "
        "{ customer { id } } }",
        {"i": {"customerId": customer, "channel": "WECHAT", "direction": "INBOUND"}},
    )
    live = page.locator("#live-feed li").first
    expect(live).to_contain_text("记录联系", timeout=30_000)
    expect(live).not_to_contain_text("crm.customer")
    expect(entries).to_have_count(6)
    expect(entries.first).to_contain_text("客户主动联系（微信）")
    # The API's reasons are English sentences: in Chinese the rule in Chinese instead.
    expect(page.locator("#profile-lifecycle-reason")).to_contain_text("已有购买")
    expect(page.locator("#profile-tier-reason")).to_contain_text("近 365 天")
    expect(page.locator("#profile-tier-reason")).not_to_contain_text("purchases")
    screenshot(page, "profile-timeline")

    # A new language draws the screen anew: its feed subscribes again, and starts empty.
    page.get_by_label("语言").select_option("en")
    expect(entry["STAGE_MOVE"]).to_contain_text("Stage move")
    expect(entry["STAGE_MOVE"]).to_contain_text("Lead → Contacted")
    expect(entry["TASK"]).to_contain_text("Call back scheduled, due")
    expect(entry["TASK"]).to_contain_text("10:30")
    expect(entry["TASK"]).not_to_contain_text("+00:00")
    expect(entries.first).to_contain_text("They reached us (WeChat)")
    live_feed_subscribed(site, page, customer, held)
    site.data(
        "mutation($i: MoveStageInput!) { moveStage(input: $i) { customer { id } } }",
        {"i": {"customerId": customer, "to": "QUALIFIED"}},
    )
    expect(live).to_contain_text("Stage moved", timeout=30_000)
    expect(page.locator("#profile-tier-reason")).to_contain_text("1 purchases totalling 2469.00")
    expect(live).not_to_contain_text("crm.customer")
    screenshot(page, "profile-timeline-english")


def test_drag_on_the_board_reaches_a_second_session_live(
    browser: Any, page: Page, site: ConsoleSite
) -> None:
    customer = site.register("周雨桐", email="yutong@example.com")
    watcher_context, watcher_guard = new_context(browser, site)
    watcher = watcher_context.new_page()
    try:
        sign_in(watcher, site, "support", "wang.fang")
        watcher.goto(f"{site.origin}/#/customers/{customer}")
        expect(watcher.locator("#profile-stage")).to_have_text("线索")

        sign_in(page, site, "sales", "li.na")
        page.locator("#nav-board").click()
        drag(page, customer, "QUALIFIED")
        expect(column(page, "QUALIFIED").locator(f'[data-customer="{customer}"]')).to_be_visible()
        screenshot(page, "board")

        # The other user's screen changes without a reload: the move arrives live.
        expect(watcher.locator("#profile-stage")).to_have_text("已确认", timeout=30_000)
        expect(watcher.locator("#live-feed li").first).to_contain_text("销售阶段变更")
        screenshot(watcher, "profile-live")
    finally:
        watcher_context.close()
    assert watcher_guard.foreign == [] and watcher_guard.script_errors == []


def test_an_illegal_move_shows_the_api_error_by_the_card(page: Page, site: ConsoleSite) -> None:
    won = site.register("郑凯")
    site.data(
        "mutation($i: MoveStageInput!) { moveStage(input: $i) { customer { id } } }",
        {"i": {"customerId": won, "to": "WON"}},
    )
    sign_in(page, site, "sales")
    page.locator("#nav-board").click()
    drag(page, won, "LEAD")
    error = card(page, won).get_by_role("alert")
    expect(error).to_contain_text("RULE")
    expect(column(page, "WON").locator(f'[data-customer="{won}"]')).to_be_visible()
    screenshot(page, "board-error")


def test_the_keyboard_moves_a_card_too(page: Page, site: ConsoleSite) -> None:
    customer = site.register("孙悦")
    sign_in(page, site, "sales")
    page.locator("#nav-board").click()
    move_to = card(page, customer).get_by_label("移至阶段")
    move_to.focus()
    move_to.select_option("PROPOSAL")
    move_to.press("Tab")
    page.keyboard.press("Tab")  # past the reason, which only a move backwards needs
    page.keyboard.press("Enter")
    expect(column(page, "PROPOSAL").locator(f'[data-customer="{customer}"]')).to_be_visible()


def test_after_a_keyboard_move_the_focus_is_on_the_card_in_its_new_column(
    page: Page, site: ConsoleSite
) -> None:
    """The moved card is drawn anew in its new column, and the focus fell to <body>: the
    keyboard user started again from the top of the page."""
    customer = site.register("焦点客户")
    sign_in(page, site, "sales")
    page.locator("#nav-board").click()
    card(page, customer).get_by_label("移至阶段").select_option("CONTACTED")
    card(page, customer).get_by_role("button", name="移动").press("Enter")
    moved = column(page, "CONTACTED").locator(f'[data-customer="{customer}"]')
    expect(moved.get_by_label("移至阶段")).to_be_focused()
    page.keyboard.press("ArrowDown")  # the keyboard goes on from there: a further stage
    expect(moved.get_by_label("移至阶段")).to_have_value("QUALIFIED")


def test_an_erased_customers_card_offers_no_move(page: Page, site: ConsoleSite) -> None:
    """The board offered the move controls (and dragging) on a forgotten customer's card,
    which the profile does not."""
    erased = site.register("将被删除", email="erased-card@example.com")
    kept = site.register("仍可移动")
    site.data(
        "mutation($i: ForgetCustomerInput!) { forgetCustomer(input: $i) { customer { id } } }",
        {"i": {"customerId": erased, "reason": "data subject request"}},
    )
    sign_in(page, site, "sales")
    page.locator("#nav-board").click()
    expect(card(page, erased)).to_contain_text("已删除")
    expect(card(page, erased).locator("form.move")).to_have_count(0)
    expect(card(page, erased)).to_have_attribute("draggable", "false")
    expect(card(page, kept).get_by_label("移至阶段")).to_be_visible()


def test_forms_show_the_field_the_api_names(page: Page, site: ConsoleSite) -> None:
    sign_in(page, site, "sales")
    page.locator("#nav-forms").click()
    form = page.locator("#form-register")
    form.get_by_label("姓名").fill("钱多多")
    form.get_by_label("邮箱").fill("not-an-email")
    form.get_by_role("button", name="提交").click()
    error = page.locator("#register-email-error")
    expect(error).to_contain_text("VALIDATION")
    expect(form.get_by_label("邮箱")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "forms-error")
    form.get_by_label("邮箱").fill("duoduo@example.com")
    form.get_by_role("button", name="提交").click()
    expect(form.get_by_role("status")).to_contain_text("已保存")
    found = site.data('{ customers(filter: {text: "duoduo@example.com"}) { totalCount } }')
    assert found["customers"]["totalCount"] == 1

    page.locator("#tab-purchase").click()
    purchase = page.locator("#form-purchase")
    purchase.get_by_label("客户 ID").fill(site.register("买家"))
    purchase.get_by_label("订单号").fill("SO-1")
    purchase.get_by_label("商品编码").fill("SKU-1")
    purchase.get_by_label("数量").fill("0")
    purchase.get_by_label("单价").fill("10.00")
    purchase.get_by_role("button", name="提交").click()
    expect(page.locator('[id="purchase-lines[0].quantity-error"]')).to_contain_text("VALIDATION")


def test_a_sales_token_sees_no_compliance_screen_and_the_api_refuses(
    page: Page, site: ConsoleSite
) -> None:
    customer = site.register("吴敏")
    sign_in(page, site, "sales")
    expect(page.locator("#nav-customers")).to_be_visible()
    expect(page.locator("#nav-compliance")).to_have_count(0)
    page.goto(f"{site.origin}/#/compliance/{customer}")
    expect(page.get_by_role("alert")).to_contain_text("无权")
    # The rule lives in the API: the same token asking directly is refused.
    answer = page.evaluate(
        """async (query) => {
            const token = sessionStorage.getItem("crm-token");
            const response = await fetch("/graphql", { method: "POST",
              headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
              body: JSON.stringify({ query }) });
            return response.json();
        }""",
        f'{{ auditTrail(customerId: "{customer}") {{ edges {{ cursor }} }} }}',
    )
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("role", "form", "offered"),
    [("sales", "merge", "register"), ("compliance", "register", "merge")],
)
def test_a_form_the_role_may_not_use_reached_by_its_address_says_so(
    page: Page, site: ConsoleSite, role: str, form: str, offered: str
) -> None:
    """`#/forms/merge` as sales showed the register form instead, under no word of why."""
    sign_in(page, site, role)
    page.goto(f"{site.origin}/#/forms/{form}")
    expect(page.locator("#screen").get_by_role("alert")).to_contain_text("无权")
    expect(page.locator("form.command")).to_have_count(0)
    expect(page.locator("nav.tabs a[aria-current]")).to_have_count(0)
    page.locator(f"#tab-{offered}").click()  # the forms it may use are still offered
    expect(page.locator(f"#form-{offered}")).to_be_visible()
    expect(page.locator("#screen").get_by_role("alert")).to_have_count(0)


def test_a_profile_the_api_does_not_give_says_so_instead_of_loading_forever(
    page: Page, site: ConsoleSite
) -> None:
    # The API answers null for an unknown id and for a customer outside the caller's
    # scope (docs/roles.md): the screen says so, it does not stay on "加载中…".
    theirs = site.register("邵嘉怡", owner="someone.far.away")
    sign_in(page, site, "sales", "li.na")
    for customer in ["00000000-0000-4000-8000-000000000000", theirs]:
        page.goto(f"{site.origin}/#/customers/{customer}")
        expect(page.locator("#profile-missing")).to_be_visible()
        expect(page.locator("#screen .loading")).to_have_count(0)
    assert "邵嘉怡" not in page.content()


def test_an_analyst_sees_masked_personal_fields(page: Page, site: ConsoleSite) -> None:
    customer = site.register("冯静怡", email="jingyi@example.com", phone="+8613800138000")
    sign_in(page, site, "analyst")
    expect(page.locator("#nav-compliance")).to_have_count(0)
    expect(page.locator("#nav-forms")).to_have_count(0)
    row = page.locator(f'tr[data-customer="{customer}"]')
    expect(row.locator(".masked")).to_have_count(3)
    # What the API refuses this role is not offered: no search box, no sort by name.
    expect(page.locator("#search")).to_have_count(0)
    expect(page.locator('#sort-field option[value="NAME"]')).to_have_count(0)
    expect(page.locator('#sort-field option[value="UPDATED_AT"]')).to_have_count(1)
    page.goto(f"{site.origin}/#/customers/{customer}")
    expect(page.locator('[data-field="email"] .masked')).to_be_visible()
    content = page.content()
    assert "冯静怡" not in content and "jingyi@example.com" not in content
    screenshot(page, "profile-analyst")


def test_erasure_from_the_compliance_screen_leaves_no_personal_data(
    page: Page, site: ConsoleSite
) -> None:
    personal = ["褚思远", "siyuan@example.com", "+8613900139000", "13900139000"]
    customer = site.register(personal[0], email=personal[1], phone=personal[2], company="远航")
    site.data(
        "mutation($i: TagCustomerInput!) { tagCustomer(input: $i) { customer { id } } }",
        {"i": {"customerId": customer, "add": ["vip-watch"]}},
    )
    sign_in(page, site, "compliance", "zhao.li")
    page.locator("#nav-compliance").click()
    page.get_by_label("选择客户").fill("思远")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name=personal[0]).click()
    trail = page.locator("#audit-trail > tbody > tr")
    expect(trail).to_have_count(2)
    expect(trail.first).to_contain_text("test-setup")
    # Field-level history: the registration's fields, before (none) and after.
    expect(trail.first.locator("table.changes")).to_contain_text("siyuan@example.com")
    expect(trail.nth(1).locator("table.changes")).to_contain_text("vip-watch")
    # Event types and state fields by their labels, not crm.customer.registered.v1 / email.
    expect(trail.first).to_contain_text("登记客户")
    expect(trail.nth(1)).to_contain_text("添加标签")
    expect(page.locator("#audit-trail")).not_to_contain_text("crm.customer")
    expect(trail.first.locator('th[data-field="email"]')).to_have_text("邮箱")
    expect(trail.nth(1).locator('th[data-field="tags"]')).to_have_text("标签")
    expect(page.locator("#asof-state")).to_contain_text(personal[0])
    expect(page.locator("#chain-status")).to_contain_text("哈希链完整")
    with page.expect_download() as download:
        page.locator("#export").click()
    # The gateway's data-subject export, the document `crm audit export` writes.
    assert download.value.suggested_filename == f"subject-export-{customer}.json"
    exported = json.loads(Path(download.value.path()).read_text())
    assert verify_export(exported) == []
    assert exported["manifest"]["customer_id"] == customer
    assert exported["manifest"]["generated_by"] == "zhao.li"
    assert exported["customer"]["state"]["email"] == personal[1]
    assert [e["type"] for e in exported["events"]] == [
        "crm.customer.registered.v1",
        "crm.customer.tagged.v1",
    ]
    screenshot(page, "compliance")

    erase = page.locator("#erase")
    erase.get_by_label("删除原因").fill("data subject request")
    expect(erase.get_by_role("button", name="删除个人数据")).to_be_disabled()
    erase.get_by_label("请输入客户 ID 以确认").fill(customer)
    erase.get_by_role("button", name="删除个人数据").click()
    expect(erase.get_by_role("status")).to_contain_text("个人数据已删除")
    expect(trail).to_have_count(3)
    # Every moment's state lost the personal data too, the one the slider showed included.
    expect(page.locator("#asof-state")).to_contain_text("已删除")
    page.get_by_label(re.compile("截至")).fill("0")
    expect(page.locator("#asof-state")).to_contain_text("远航")
    expect(page.locator("#asof-state")).not_to_contain_text(personal[0])
    screenshot(page, "compliance-erased")

    # Every screen the customer appears on, and whether it names the customer's id.
    screens = {
        "#/customers": False,
        f"#/customers/{customer}": True,
        "#/board": False,
        "#/complaintQueue": False,
        f"#/compliance/{customer}": True,
    }
    for screen, names_the_id in screens.items():
        page.goto(f"{site.origin}/{screen}")
        page.wait_for_load_state("networkidle")
        page.locator("#screen h1").first.wait_for()
        content = page.content()
        if names_the_id:  # the screen did load this very customer
            assert customer in content, screen
        for value in personal:
            assert value not in content, (screen, value)
    expect(page.locator("#audit-trail > tbody > tr")).to_have_count(3)


def test_a_double_click_on_erase_sends_one_request_with_an_idempotency_key(
    page: Page, site: ConsoleSite
) -> None:
    """The erase form sent no idempotency key and left its button enabled while the request
    was out: a double click sent forgetCustomer twice."""
    customer = site.register("双击删除", email="erase-twice@example.com")
    sent: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        body = request.post_data_json if request.method == "POST" else None
        if body and "forgetCustomer" in body.get("query", ""):
            sent.append(body["variables"]["input"])

    page.on("request", record)
    sign_in(page, site, "compliance", "zhao.li")
    page.goto(f"{site.origin}/#/compliance/{customer}")
    erase = page.locator("#erase")
    erase.get_by_label("删除原因").fill("data subject request")
    erase.get_by_label("请输入客户 ID 以确认").fill(customer)
    erase.get_by_role("button", name="删除个人数据").dblclick()
    expect(erase.get_by_role("status")).to_contain_text("个人数据已删除")
    page.wait_for_timeout(500)  # a second request, had one gone out, has landed by now
    expect(erase.get_by_role("alert")).to_have_count(0)
    assert len(sent) == 1, sent
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        sent[0].get("idempotencyKey") or "",
    ), sent
    expect(page.locator("#audit-trail > tbody > tr")).to_have_count(2)  # registered, erased


def test_the_dashboard_and_english(page: Page, site: ConsoleSite) -> None:
    buyer = site.register("Dashboard Buyer", source="web")
    site.data(
        "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) { customer { id } } }",
        {
            "i": {
                "customerId": buyer,
                "orderId": "D-1",
                "lines": [{"sku": "A", "quantity": 2, "unitPrice": "1234.50"}],
            }
        },
    )
    sign_in(page, site, "admin")
    page.locator("#nav-dashboard").click()
    expect(page.locator("#funnel tbody tr")).to_have_count(7)  # LEAD … WON
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    page.get_by_label("开始").fill((today - timedelta(days=1)).isoformat())
    page.get_by_label("结束").fill(today.isoformat())
    page.get_by_label("来源").fill("web")
    page.get_by_role("button", name="应用").click()
    # Only the customer registered today from "web" is in that window.
    expect(page.locator("#funnel tbody tr").first.locator("td.number").first).to_have_text("1")
    expect(page.locator("#lifecycle")).to_contain_text("新客户")
    this_month = datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m")
    expect(page.locator("#revenue tr").last).to_contain_text(this_month)
    expect(page.locator("#revenue tr").last).to_contain_text("¥2,469.00")
    screenshot(page, "dashboard")

    # Dates in the deployment's zone (Asia/Shanghai), whatever the browser's (UTC here).
    shown = page.evaluate(
        "async () => (await import('/static/js/format.js')).dateTime('2024-01-01T00:00:00Z')"
    )
    assert "08:00" in shown and "2024" in shown, shown

    page.get_by_label("语言").select_option("en")
    expect(page.locator("#nav-customers")).to_have_text("Customers")
    expect(page.locator("#funnel")).to_contain_text("Lead")
    page.goto(f"{site.origin}/#/customers/{buyer}")
    expect(page.locator("#profile-total")).to_have_text("¥2,469.00")
    expect(page.locator("#orders tbody tr")).to_contain_text("D-1")
    screenshot(page, "profile-english")


def test_graphiql_renders_with_only_the_gateway_reachable(page: Page, site: ConsoleSite) -> None:
    page.goto(f"{site.origin}/graphql")
    expect(page.locator(".graphiql-container")).to_be_visible()
    expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    expect(page.locator(".graphiql-query-editor")).to_contain_text("FirstCustomers")
    # GraphiQL's own editors (CodeMirror's hidden textareas) are not ours to label.
    screenshot(page, "graphiql", check_labels=False)


def test_the_complaint_queue_assigns_in_place(page: Page, site: ConsoleSite) -> None:
    customer = site.register("投诉人")
    filed = site.data(
        "mutation($i: FileComplaintInput!) { fileComplaint(input: $i) { complaint { id } } }",
        {
            "i": {
                "customerId": customer,
                "category": "delivery",
                "severity": "HIGH",
                "description": "包裹迟到三天",
            }
        },
    )
    complaint = filed["fileComplaint"]["complaint"]["id"]
    sign_in(page, site, "support", "wang.fang")
    page.locator("#nav-complaintQueue").click()
    row = page.locator(f'tr[data-complaint="{complaint}"]')
    expect(row).to_contain_text("包裹迟到三天")
    expect(row.locator("td").first).to_have_text(re.compile(r"^\d+\.\d 小时$"))
    row.get_by_label("处理人").fill("wang.fang")
    row.get_by_role("button", name="指派").click()
    page.get_by_label("处理人", exact=True).first.fill("wang.fang")
    page.get_by_label("处理人", exact=True).first.press("Tab")  # the filter: change on blur
    expect(page.locator(f'tr[data-complaint="{complaint}"]')).to_be_visible()
    screenshot(page, "complaint-queue")
    assigned = site.data(f'{{ customer(id: "{customer}") {{ complaints {{ assignee }} }} }}')
    assert assigned["customer"]["complaints"] == [{"assignee": "wang.fang"}]


def test_a_double_click_on_submit_records_once(page: Page, site: ConsoleSite) -> None:
    """The form sends one idempotency key per thing meant, and waits for its answer."""
    customer = site.register("双击客户")
    sign_in(page, site, "sales")
    page.goto(f"{site.origin}/#/forms/touch")
    form = page.locator("#form-touch")
    form.get_by_label("客户 ID").fill(customer)
    form.get_by_label("渠道").select_option("PHONE")
    form.get_by_label("方向").select_option("INBOUND")  # the customer called us
    form.get_by_label("摘要").fill("回访")
    form.get_by_role("button", name="提交").dblclick()
    expect(form.get_by_role("status")).to_contain_text("已保存")
    page.wait_for_timeout(500)  # a second request, had one gone out, has landed by now
    touched = site.data(
        f'{{ customer(id: "{customer}") {{ touches {{ count }} '
        "touchHistory { edges { node { direction } } } } }"
    )
    assert touched["customer"]["touches"]["count"] == 1
    edges = touched["customer"]["touchHistory"]["edges"]
    assert [e["node"]["direction"] for e in edges] == ["INBOUND"]


def file_complaint(site: ConsoleSite, customer: str, description: str) -> str:
    filed = site.data(
        "mutation($i: FileComplaintInput!) { fileComplaint(input: $i) { complaint { id } } }",
        {"i": {"customerId": customer, "category": "billing", "severity": "LOW",
               "description": description}},
    )  # fmt: skip
    return str(filed["fileComplaint"]["complaint"]["id"])


def test_each_queue_row_keeps_its_own_assignee_and_resolves_in_place(
    page: Page, site: ConsoleSite
) -> None:
    """Rows shifted up after an assignment showed the assignee typed into the row above
    (their inputs kept their place, not their complaint); resolve needed an id no screen
    showed."""
    customer = site.register("排队客户")
    ids = [file_complaint(site, customer, f"队列问题 {n}") for n in range(3)]
    sign_in(page, site, "support", "wang.fang")
    page.locator("#nav-complaintQueue").click()
    page.get_by_label("仅未指派").check()
    first = page.locator(f'tr[data-complaint="{ids[0]}"]')
    first.get_by_label("处理人").fill("li.na")  # a teammate: in scope
    first.get_by_role("button", name="指派").click()
    expect(first).to_have_count(0)  # assigned: out of the unassigned queue
    for other in ids[1:]:
        expect(page.locator(f'tr[data-complaint="{other}"]').get_by_label("处理人")).to_have_value(
            ""
        )
    row = page.locator(f'tr[data-complaint="{ids[1]}"]')
    row.locator("details.act summary").click()
    resolve = row.locator(f"#form-resolve-{ids[1]}")
    resolve.get_by_label("处理结果").fill("已退款")
    resolve.get_by_role("button", name="提交").click()
    expect(page.locator(f'tr[data-complaint="{ids[1]}"]')).to_have_count(0)
    found = site.data(f'{{ customer(id: "{customer}") {{ complaints {{ id status assignee }} }} }}')
    by_id = {c["id"]: c for c in found["customer"]["complaints"]}
    assert by_id[ids[0]]["assignee"] == "li.na"
    assert by_id[ids[1]]["status"] == "RESOLVED"
    assert (by_id[ids[2]]["assignee"], by_id[ids[2]]["status"]) == (None, "OPEN")


REPEATED_IDS = """() => {
    const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
    return [...new Set(ids.filter((id, n) => ids.indexOf(id) !== n))];
}"""


def test_each_queue_rows_form_has_its_own_ids_and_labels(page: Page, site: ConsoleSite) -> None:
    """Every row's resolve and escalate forms had the same ids ("resolve-resolution", …):
    each label, and each error's aria-describedby, pointed at the first row's input."""
    customer = site.register("标签客户")
    ids = [file_complaint(site, customer, f"标签问题 {n}") for n in range(3)]
    sign_in(page, site, "support", "wang.fang")
    page.locator("#nav-complaintQueue").click()
    for complaint in ids:
        expect(page.locator(f'tr[data-complaint="{complaint}"]')).to_be_visible()
    assert page.evaluate(REPEATED_IDS) == []

    third = page.locator(f'tr[data-complaint="{ids[2]}"]')
    third.locator("details.act summary").click()
    resolve = third.locator("form.command").filter(has_text="处理投诉")
    resolve.locator("label", has_text="处理结果").click()
    focused = page.evaluate(
        """() => [document.activeElement.name,
                  document.activeElement.closest("tr")?.dataset.complaint]"""
    )
    assert focused == ["resolution", ids[2]]
    resolve.get_by_label("处理结果").fill("已补发")
    score = resolve.get_by_label("满意度（1–5）")
    score.fill("9")  # out of range: the API names the input
    resolve.get_by_role("button", name="提交").click()
    expect(score).to_have_attribute("aria-invalid", "true")
    described = score.get_attribute("aria-describedby")
    expect(third.locator(f'[id="{described}"]')).to_contain_text("VALIDATION")
    assert page.evaluate(REPEATED_IDS) == []


@pytest.mark.parametrize("route", ["customers", "customers/{id}", "board", "dashboard", "my"])
def test_a_phone_wide_screen_scrolls_no_page_sideways(
    page: Page, site: ConsoleSite, route: str
) -> None:
    tag = route.replace("/", "-").strip("{}-")
    customer = site.register("宽度测试客户名字很长的公司代表", email=f"wide-{tag}@example.com")
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, site, "admin")
    page.goto(f"{site.origin}/#/{route.format(id=customer)}")
    page.wait_for_load_state("networkidle")
    expect(page.locator("main")).not_to_be_empty()
    screenshot(page, f"phone-{tag}")
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 375, f"#/{route} is {wide}px wide on a 375px screen"


def test_the_screen_gone_to_takes_the_focus(page: Page, site: ConsoleSite) -> None:
    sign_in(page, site, "sales")
    page.locator("#nav-board").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".board")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "screen"
    page.keyboard.press("Tab")  # on from the screen's start, not from the top of the page
    assert page.evaluate("document.getElementById('screen').contains(document.activeElement)")
