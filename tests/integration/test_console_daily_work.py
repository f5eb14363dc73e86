"""The console's daily-work screens in a real headless Chromium, against the real gateway,
database, broker and relay: notes and tasks on the profile, "My tasks" with its live
reminder (the scheduler's tick run here, as `crm worker lifecycle` runs it), and the
forms added for assignOwner, recordNeed, changeConsent, answerSurvey and
escalateComplaint. Fixtures (`site`, `browser`, `page`) are in conftest.py; screenshots
go to tests/results/screens/ like test_console_browser.py's."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from streams.task_scheduler import mark_due_tasks
from tests.integration.support.browser import (
    TIMEZONE,
    ConsoleSite,
    new_context,
    screenshot,
    sign_in,
)
from tests.integration.support.gateway import OWNER

pytestmark = pytest.mark.integration

SCHEDULE = "mutation($i: ScheduleTaskInput!) { scheduleTask(input: $i) { task { id status } } }"


def zone_input(moment: datetime) -> str:
    """A datetime-local value as the console reads it: wall time in the deployment zone."""
    return moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%dT%H:%M:%S")


def schedule_from_profile(page: Page, title: str, assignee: str, due: datetime) -> str:
    """Fill the profile's "schedule a task" form; the id the API gave the task."""
    form = page.locator("#form-scheduleTask")
    form.get_by_label("任务类型").select_option("CALL_BACK")
    form.get_by_label("任务内容").fill(title)
    form.get_by_label("处理人").fill(assignee)
    form.get_by_label("到期时间").fill(zone_input(due))
    form.get_by_role("button", name="提交").click()
    saved = form.get_by_role("status").locator("code")
    expect(saved).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    task_id = saved.text_content()
    assert task_id
    return task_id


def task_row(page: Page, table: str, task_id: str) -> Locator:
    return page.locator(f'#{table} tr[data-task="{task_id}"]')


def wait_for_reminder_subscriptions(site: ConsoleSite, page: Page, count: int) -> None:
    """Until the gateway holds `count` reminder subscriptions and its broker consumer sits
    at the topic's end: a reminder published earlier would reach nobody (live events
    start at the latest offset), and the consumer starts slowly on a loaded machine.

    Waits through `page.wait_for_timeout`, not `time.sleep`: every request of the test's
    browsers passes the Python route handler (`Guard.route`), which the sync API runs only
    inside a Playwright call, so a sleeping test would hold the pages' lazy imports (the
    graphql-ws library the subscriptions need) and they would never subscribe."""
    live = site.gw.deps.live
    assert live is not None
    deadline = time.monotonic() + 60
    while not (live.ready and sum(s.match is not None for s in live.subscribers) >= count):
        assert time.monotonic() < deadline, "the reminder subscriptions did not start"
        page.wait_for_timeout(200)


def fire_due_tasks(site: ConsoleSite, due: datetime) -> None:
    """Once `due` has passed, one scheduler tick (as `crm worker lifecycle` runs it), then
    the read models brought up to date (as `crm project` would)."""
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 0.5))
    with psycopg.connect(site.database_url, autocommit=True) as conn:
        tick = mark_due_tasks(conn, site.gw.deps.service, datetime.now(UTC))
    assert tick.marked >= 1, tick
    site.gw.sync()


def test_a_note_added_on_the_profile_is_listed_and_on_the_timeline(
    page: Page, site: ConsoleSite
) -> None:
    customer = site.register("欧阳靖", email="jing@example.com")
    sign_in(page, site, "sales", "li.na")
    page.goto(f"{site.origin}/#/customers/{customer}")
    expect(page.locator("#notes-title")).to_have_text("备注")
    form = page.locator("#form-addNote")
    form.get_by_label("备注内容").fill("客户希望下周二上午回电")
    form.get_by_role("button", name="提交").click()
    expect(form.get_by_role("status")).to_contain_text("已保存")
    notes = page.locator("#notes li")
    expect(notes).to_have_count(1)
    expect(notes.first).to_contain_text("客户希望下周二上午回电")
    expect(notes.first).to_contain_text("li.na")
    timeline = page.locator("#timeline li")
    expect(timeline.first).to_have_attribute("data-kind", "NOTE")

    # Newest first: a second note goes on top.
    form.get_by_label("备注内容").fill("已发送报价单")
    form.get_by_role("button", name="提交").click()
    expect(notes).to_have_count(2)
    expect(notes.first).to_contain_text("已发送报价单")
    screenshot(page, "profile-notes")

    # An analyst has no notes section at all (the API refuses notes to that role).
    analyst_context, analyst_guard = new_context(page.context.browser, site)
    try:
        analyst = analyst_context.new_page()
        sign_in(analyst, site, "analyst")
        analyst.goto(f"{site.origin}/#/customers/{customer}")
        expect(analyst.locator("#profile-stage")).to_have_text("线索")
        expect(analyst.locator("#notes-title")).to_have_count(0)
        assert "下周二" not in analyst.content()
    finally:
        analyst_context.close()
    assert analyst_guard.foreign == [] and analyst_guard.script_errors == []


class LaggingReadModels:
    """The gateway's answer to the profile's reload after a write (`atLeast` set) while
    the read models lag: TIMEOUT, as `customer(id, atLeast:)` gives after its wait. Every
    other request goes on to the gateway (through the test's guard). `waited`: the
    queries sent with `atLeast`, by name, and the position each gave."""

    def __init__(self, page: Page) -> None:
        self.lagging = True
        self.waited: dict[str, set[int]] = {}
        page.route("**/graphql", self.answer)

    def answer(self, route: Route, request: Request) -> None:
        body = request.post_data_json or {}
        at_least = (body.get("variables") or {}).get("atLeast")
        waits = at_least is not None
        if waits:
            name = body.get("query", "").split("(")[0].removeprefix("query ").strip()
            self.waited.setdefault(name, set()).add(at_least)
        if self.lagging and waits and "query Profile" in body.get("query", ""):
            error = {
                "message": "the read models have reached position 1 for this customer, "
                "not 99, after waiting 5.0s; try again shortly",
                "extensions": {"code": "TIMEOUT", "field": "atLeast"},
            }
            route.fulfill(json={"data": None, "errors": [error]})
        else:
            route.fallback()


def test_a_note_saved_while_the_read_models_lag_keeps_the_profile_on_screen(
    page: Page, site: ConsoleSite
) -> None:
    """The reload after the write timed out and the whole profile gave way to the API's
    English TIMEOUT text."""
    customer = site.register("东方白", email="bai@example.com")
    sign_in(page, site, "sales", "li.na")
    page.goto(f"{site.origin}/#/customers/{customer}")
    expect(page.locator("#profile-stage")).to_have_text("线索")
    lag = LaggingReadModels(page)
    form = page.locator("#form-addNote")
    form.get_by_label("备注内容").fill("客户下午三点后方便接听")
    form.get_by_role("button", name="提交").click()
    expect(form.get_by_role("status")).to_contain_text("已保存")
    stale = page.locator("#profile-reload-error")
    expect(stale).to_contain_text("未能刷新")
    expect(stale).to_contain_text("TIMEOUT")
    expect(page.locator("#profile-title")).to_have_text("东方白")
    expect(page.locator("#profile-stage")).to_have_text("线索")
    expect(page.locator("#notes-title")).to_be_visible()
    screenshot(page, "profile-reload-timeout")

    # Once the read models catch up, asking again shows the note and clears the error.
    lag.lagging = False
    stale.get_by_role("button", name="重试").click()
    expect(stale).to_have_count(0)
    expect(page.locator("#notes li")).to_have_count(1)
    expect(page.locator("#notes li").first).to_contain_text("客户下午三点后方便接听")
    expect(page.locator("#timeline li").first).to_have_attribute("data-kind", "NOTE")
    # The notes and the timeline were read at the write's position too.
    assert lag.waited["Notes"] == lag.waited["Timeline"] == lag.waited["Profile"], lag.waited


def test_a_task_scheduled_on_the_profile_is_worked_in_my_tasks(
    page: Page, site: ConsoleSite
) -> None:
    customer = site.register("司马晴", email="qing@example.com")
    now = datetime.now(UTC)
    # Tasks set up through the API for the same person: one to reschedule and cancel,
    # one whose due time passed (recorded as if scheduled two hours ago).
    later = site.data(
        SCHEDULE,
        {
            "i": {
                "customerId": customer,
                "kind": "VISIT",
                "title": "上门拜访",
                "assignee": "li.na",
                "dueAt": (now + timedelta(days=3)).isoformat(),
            }
        },
    )["scheduleTask"]["task"]["id"]
    late = site.data(
        SCHEDULE,
        {
            "i": {
                "customerId": customer,
                "kind": "CARE_CALL",
                "title": "关怀回访",
                "assignee": "li.na",
                "occurredAt": (now - timedelta(hours=2)).isoformat(),
                "dueAt": (now - timedelta(hours=1)).isoformat(),
            }
        },
    )["scheduleTask"]["task"]["id"]

    sign_in(page, site, "sales", "li.na")
    page.goto(f"{site.origin}/#/customers/{customer}")
    expect(page.locator("#form-scheduleTask").get_by_label("处理人")).to_have_value("li.na")
    task = schedule_from_profile(page, "回电确认报价", "li.na", now + timedelta(days=1))
    expect(task_row(page, "customer-tasks", task)).to_contain_text("回电确认报价")
    expect(page.locator("#customer-tasks tbody tr")).to_have_count(3)
    expect(page.locator('#timeline li[data-kind="TASK"]')).to_have_count(3)
    screenshot(page, "profile-tasks")

    page.locator("#nav-myTasks").click()
    row = task_row(page, "my-tasks", task)
    expect(row).to_contain_text("回电确认报价")
    expect(row.locator(".task-status")).to_contain_text("待办")
    # The task past its due time (the scheduler has not ticked yet) is marked.
    expect(task_row(page, "my-tasks", late)).to_have_class("overdue")
    expect(task_row(page, "my-tasks", late)).to_contain_text("已过到期时间")
    expect(task_row(page, "my-tasks", task)).not_to_have_class("overdue")
    screenshot(page, "my-tasks")

    row.get_by_label("结果").fill("客户同意下单")
    row.get_by_role("button", name="完成").click()
    expect(row).to_have_attribute("data-status", "DONE")
    expect(row.locator(".task-status")).to_have_text("已完成")
    expect(row.get_by_role("button")).to_have_count(0)  # nothing left to do with it

    moved = task_row(page, "my-tasks", later)
    was_due = moved.locator("time").get_attribute("datetime")
    new_due = (now + timedelta(days=5)).replace(microsecond=0)
    moved.get_by_label("新的到期时间").fill(zone_input(new_due))
    moved.get_by_role("button", name="改期").click()
    expect(moved.locator("time")).not_to_have_attribute("datetime", was_due or "")
    # The wall time typed in the deployment's zone reached the API as that instant.
    shown_due = moved.locator("time").get_attribute("datetime") or ""
    assert datetime.fromisoformat(shown_due) == new_due
    moved.get_by_label("取消原因").fill("客户改为电话沟通")
    moved.get_by_role("button", name="取消任务").click()
    expect(moved).to_have_attribute("data-status", "CANCELLED")

    # The status filter asks the API for one status.
    page.get_by_label("状态").select_option("DONE")
    expect(page.locator("#my-tasks tbody tr")).to_have_count(1)
    expect(page.locator("#my-tasks tbody tr").first).to_have_attribute("data-task", task)
    mine = site.data(
        f'{{ customer(id: "{customer}") {{ timeline(types: [TASK]) {{ edges '
        "{ node { ... on TaskEntry { taskId status } } } } } }"
    )
    steps = [e["node"] for e in mine["customer"]["timeline"]["edges"]]
    assert {"taskId": task, "status": "DONE"} in steps
    assert {"taskId": later, "status": "CANCELLED"} in steps

    page.get_by_label("语言").select_option("en")
    expect(page.locator("#my-tasks-title")).to_have_text("My tasks")
    expect(task_row(page, "my-tasks", task).locator(".task-status")).to_have_text("Done")
    expect(task_row(page, "my-tasks", late).locator(".task-status")).to_contain_text("Past due")
    screenshot(page, "my-tasks-english")


def test_a_due_tasks_reminder_arrives_live_in_a_second_session(
    browser: Any, page: Page, site: ConsoleSite
) -> None:
    customer = site.register("上官敏")
    watcher_context, watcher_guard = new_context(browser, site)
    watcher = watcher_context.new_page()
    try:
        sign_in(watcher, site, "support", "wang.fang")
        watcher.locator("#nav-myTasks").click()
        expect(watcher.locator("#my-tasks")).to_be_visible()

        sign_in(page, site, "sales", "li.na")
        page.goto(f"{site.origin}/#/customers/{customer}")
        due = datetime.now(UTC) + timedelta(seconds=10)
        task = schedule_from_profile(page, "提醒：回电上官女士", "wang.fang", due)
        expect(task_row(watcher, "my-tasks", task)).to_have_count(0)  # not there yet

        wait_for_reminder_subscriptions(site, page, 2)  # both sessions' (li.na's and wang.fang's)
        fire_due_tasks(site, due)
        reminder = watcher.locator(f'#reminders .reminder[data-task="{task}"]')
        expect(reminder).to_contain_text("提醒：回电上官女士", timeout=30_000)
        expect(reminder).to_contain_text("任务到期提醒")
        # My tasks reloaded when the reminder came: the task is there, marked overdue.
        expect(task_row(watcher, "my-tasks", task)).to_have_class("overdue")
        screenshot(watcher, "task-reminder")
        steps = site.data(
            f'{{ customer(id: "{customer}") {{ timeline(types: [TASK]) {{ edges '
            "{ node { actor ... on TaskEntry { status } } } } } }"
        )["customer"]["timeline"]["edges"]
        assert steps[0]["node"] == {"actor": "system:scheduler", "status": "OVERDUE"}
        # The one who scheduled it for someone else gets no reminder of it (her own
        # overdue tasks, marked by the same tick, remind her of those).
        expect(page.locator(f'#reminders .reminder[data-task="{task}"]')).to_have_count(0)
        reminder.get_by_role("button", name="关闭提醒").click()
        expect(reminder).to_have_count(0)
    finally:
        watcher_context.close()
    assert watcher_guard.foreign == [] and watcher_guard.script_errors == []


def test_the_new_forms_show_the_field_the_api_names_and_save(page: Page, site: ConsoleSite) -> None:
    customer = site.register("诸葛芸")
    sign_in(page, site, "sales", "li.na")
    page.locator("#nav-forms").click()
    page.locator("#tab-survey").click()
    form = page.locator("#form-survey")
    form.get_by_label("客户 ID").fill(customer)
    form.get_by_label("调查 ID").fill("nps-2026")
    form.get_by_label("评分（1–5）").fill("9")
    form.get_by_role("button", name="提交").click()
    error = page.locator("#survey-score-error")
    expect(error).to_contain_text("VALIDATION")
    expect(form.get_by_label("评分（1–5）")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "forms-survey-error")
    form.get_by_label("评分（1–5）").fill("4")
    form.get_by_role("button", name="提交").click()
    expect(form.get_by_role("status")).to_contain_text("已保存")

    page.locator("#tab-consent").click()
    consent = page.locator("#form-consent")
    consent.get_by_label("客户 ID").fill(customer)
    consent.get_by_label("用途（如 marketing）").fill("marketing")
    consent.get_by_label("决定").select_option("WITHDRAWN")
    consent.get_by_label("渠道（留空表示全部渠道）").select_option("WECHAT")
    consent.get_by_role("button", name="提交").click()
    expect(consent.get_by_role("status")).to_contain_text("已保存")

    page.locator("#tab-assignOwner").click()
    owner = page.locator("#form-assignOwner")
    owner.get_by_label("客户 ID").fill(customer)
    owner.get_by_label("新负责人").fill("wang.fang")  # a teammate: still in li.na's scope
    owner.get_by_role("button", name="提交").click()
    expect(owner.get_by_role("status")).to_contain_text("已保存")

    page.locator("#tab-recordNeed").click()
    need = page.locator("#form-recordNeed")
    need.get_by_label("客户 ID").fill(customer)
    need.get_by_label("需求描述").fill("需要批量采购报价")
    need.get_by_role("button", name="提交").click()
    expect(need.get_by_role("status")).to_contain_text("已保存")

    saved = site.data(
        f'{{ customer(id: "{customer}") {{ owner latestSurveys {{ surveyId score }} '
        "consents { purpose channel granted } openNeeds { description } } }"
    )["customer"]
    assert saved["owner"] == "wang.fang"
    assert saved["latestSurveys"] == [{"surveyId": "nps-2026", "score": 4}]
    assert saved["consents"] == [{"purpose": "marketing", "channel": "WECHAT", "granted": False}]
    assert [n["description"] for n in saved["openNeeds"]] == ["需要批量采购报价"]

    # Escalating a complaint twice: the API's RULE, shown on the form.
    filed = site.data(
        "mutation($i: FileComplaintInput!) { fileComplaint(input: $i) { complaint { id } } }",
        {
            "i": {
                "customerId": customer,
                "category": "billing",
                "severity": "LOW",
                "description": "发票抬头错误",
            }
        },
    )["fileComplaint"]["complaint"]["id"]
    page.locator("#tab-escalate").click()
    escalate = page.locator("#form-escalate")
    for answer in ("已保存", "RULE"):
        escalate.get_by_label("投诉 ID").fill(filed)
        escalate.get_by_role("button", name="提交").click()
        expect(escalate).to_contain_text(answer)
    screenshot(page, "forms-escalate")


def test_a_role_without_the_permission_sees_no_form_and_the_api_refuses(
    page: Page, site: ConsoleSite
) -> None:
    customer = site.register("慕容雪")
    sign_in(page, site, "support", "wang.fang")
    expect(page.locator("#nav-myTasks")).to_be_visible()
    page.locator("#nav-forms").click()
    expect(page.locator("#tab-escalate")).to_be_visible()
    for form in ("assignOwner", "recordNeed", "consent", "survey", "register"):
        expect(page.locator(f"#tab-{form}")).to_have_count(0)
    # Asked by its address, the form is not there either: the screen says why.
    page.goto(f"{site.origin}/#/forms/assignOwner")
    expect(page.locator("#screen").get_by_role("alert")).to_contain_text("无权")
    expect(page.locator("form.command")).to_have_count(0)
    answer = page.evaluate(
        """async (query) => {
            const token = sessionStorage.getItem("crm-token");
            const response = await fetch("/graphql", { method: "POST",
              headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
              body: JSON.stringify({ query }) });
            return response.json();
        }""",
        f'mutation {{ assignOwner(input: {{customerId: "{customer}", owner: "wang.fang"}}) '
        "{ customer { owner } } }",
    )
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert site.data(f'{{ customer(id: "{customer}") {{ owner }} }}')["customer"]["owner"] == OWNER

    # Compliance reads notes but writes none, and has no tasks of its own.
    compliance_context, compliance_guard = new_context(page.context.browser, site)
    try:
        other = compliance_context.new_page()
        sign_in(other, site, "compliance", "zhao.li")
        expect(other.locator("#nav-myTasks")).to_have_count(0)
        other.goto(f"{site.origin}/#/customers/{customer}")
        expect(other.locator("#notes-title")).to_be_visible()
        expect(other.locator("#form-addNote")).to_have_count(0)
        expect(other.locator("#tasks-title")).to_have_count(0)
        other.locator("#nav-forms").click()
        expect(other.locator("#tab-merge")).to_be_visible()
        expect(other.locator("#tab-escalate")).to_have_count(0)
    finally:
        compliance_context.close()
    assert compliance_guard.foreign == [] and compliance_guard.script_errors == []
