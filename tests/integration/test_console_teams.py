"""The console's Teams screen and the profile's custom fields, in a real headless Chromium
against the real gateway, database, broker and relay (fixtures in conftest.py).

Teams: the admin defines a department, a team and its members through the screen's forms
(a wrong department and a wrong capacity shown under the input the API names), and the
API's scoping follows: a sales rep sees a teammate's customer only while both are in the
team. Custom fields: values set over the API show in the profile's details (TEXT hidden
from an analyst, as the API masks it), and sales set one with the profile's form.
Screenshots go to tests/results/screens/ like the other console tests'."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.integration.support.browser import ConsoleSite, new_context, screenshot, sign_in

pytestmark = pytest.mark.integration

DEFINE_FIELD = "mutation($i: DefineCustomFieldInput!) { defineCustomField(input: $i) { key } }"
SET_FIELDS = "mutation($i: SetCustomFieldsInput!) { setCustomFields(input: $i) { position } }"


def submit(page: Page, form_name: str, values: dict[str, str]) -> None:
    """Fill one of the Teams screen's forms by its labels and submit it."""
    form = page.locator(f"#form-{form_name}")
    for label, value in values.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="提交").click()


def submit_and_save(page: Page, form_name: str, values: dict[str, str]) -> None:
    """Submit, then wait for this save's position (a form used again still shows the
    last one until the answer comes)."""
    status = page.locator(f"#form-{form_name}").get_by_role("status")
    before = status.locator("code").text_content() if status.count() else None
    submit(page, form_name, values)
    expect(status).to_contain_text("已保存")
    if before is not None:
        expect(status.locator("code")).not_to_have_text(before)


def gateway_has_organisation_query(site: ConsoleSite) -> bool:
    fields = site.data("{ __schema { queryType { fields { name } } } }")
    return "organisation" in {f["name"] for f in fields["__schema"]["queryType"]["fields"]}


def expect_list_shows(page: Page, site: ConsoleSite, customer: str, shown: bool) -> None:
    """The rep's customer list, asked again: their scope holds only the test team's
    customer, so the total is 1 with it and 0 without."""
    # Away and back remounts the list (a new query); a reload could cut a module load.
    page.goto(f"{site.origin}/#/board")
    expect(page.locator("#nav-board")).to_have_attribute("aria-current", "page")
    page.goto(f"{site.origin}/#/customers")
    expect(page.locator("#customer-count")).to_have_text(f"共 {int(shown)} 位客户")
    expect(page.locator(f'tr[data-customer="{customer}"]')).to_have_count(int(shown))


def test_the_admin_defines_a_team_and_scoping_follows(page: Page, site: ConsoleSite) -> None:
    suffix = uuid.uuid4().hex[:6]
    department, team = f"华东区-{suffix}", f"华东一组-{suffix}"
    owner, teammate = f"zhao.lei-{suffix}", f"qian.wei-{suffix}"
    customer = site.register(f"上官燕{suffix}", owner=owner)

    rep_context, rep_guard = new_context(page.context.browser, site)
    try:
        rep = rep_context.new_page()
        sign_in(rep, site, "sales", teammate)
        # A sales rep has no Teams screen, and no teammate yet owns this customer.
        expect(rep.locator("#nav-teams")).to_have_count(0)
        expect_list_shows(rep, site, customer, shown=False)

        sign_in(page, site, "admin")
        page.locator("#nav-teams").click()
        expect(page.locator("#teams-title")).to_have_text("团队")

        # A team in a department that does not exist: NOT_FOUND under "department".
        submit(page, "defineTeam", {"团队": team, "部门": department})
        error = page.locator("#defineTeam-department-error")
        expect(error).to_contain_text("NOT_FOUND")
        expect(page.locator("#defineTeam-department")).to_have_attribute("aria-invalid", "true")

        submit_and_save(page, "defineDepartment", {"部门": department})
        submit_and_save(page, "defineTeam", {"团队": team, "部门": department})
        for member in (owner, teammate):
            submit_and_save(page, "addTeamMember", {"团队": team, "成员": member})

        # A cap of 0 leads per rep is refused under "capacity"; 2 is a rule.
        rule = f"华东线索-{suffix}"
        rule_form = {"规则名称": rule, "团队": team, "地区": "华东", "每人上限（未结线索）": "0"}
        submit(page, "defineAssignmentRule", rule_form)
        expect(page.locator("#defineAssignmentRule-capacity-error")).to_contain_text("VALIDATION")
        submit_and_save(page, "defineAssignmentRule", {**rule_form, "每人上限（未结线索）": "2"})

        if gateway_has_organisation_query(site):
            team_row = page.locator(f'#organisation tr[data-team="{team}"]')
            expect(team_row.locator(f'[data-member="{teammate}"]')).to_have_count(1)
            expect(page.locator(f'#rules tr[data-rule="{rule}"]')).to_contain_text("华东")
        else:  # this gateway has no read of the organisation: the screen says so
            expect(page.locator("#screen .notice")).to_contain_text("Query.organisation")
        screenshot(page, "teams-admin")

        # Both in one team: the rep now sees the teammate's customer.
        expect_list_shows(rep, site, customer, shown=True)

        submit_and_save(page, "removeTeamMember", {"团队": team, "成员": teammate})
        expect_list_shows(rep, site, customer, shown=False)
    finally:
        rep_context.close()
    assert rep_guard.foreign == [] and rep_guard.script_errors == []


@pytest.mark.parametrize("role", ["compliance", "manager"])
def test_compliance_and_managers_read_teams_without_forms(
    page: Page, site: ConsoleSite, role: str
) -> None:
    sign_in(page, site, role, f"{role}-reader")
    page.locator("#nav-teams").click()
    expect(page.locator("#teams-title")).to_have_text("团队")
    expect(page.locator("#organisation, #screen .notice, #screen .error").first).to_be_visible()
    expect(page.locator("#organisation-forms")).to_have_count(0)
    expect(page.locator("#screen form")).to_have_count(0)
    screenshot(page, f"teams-{role}")
    page.locator("#language").select_option("en")
    expect(page.locator("#teams-title")).to_have_text("Teams")
    expect(page.locator("#nav-teams")).to_have_text("Teams")


def test_custom_fields_show_on_the_profile_and_sales_set_one(page: Page, site: ConsoleSite) -> None:
    suffix = uuid.uuid4().hex[:6]
    segment, remark, channels = f"segment_{suffix}", f"remark_{suffix}", f"channels_{suffix}"
    for definition in (
        {"key": segment, "label": "行业细分", "type": "SINGLE_CHOICE",
         "choices": ["制造", "零售", "金融"]},
        {"key": remark, "label": "内部评语", "type": "TEXT"},
        {"key": channels, "label": "偏好渠道", "type": "MULTI_CHOICE",
         "choices": ["wechat", "email"]},
    ):  # fmt: skip
        site.data(DEFINE_FIELD, {"i": definition})
    customer = site.register("慕容雪", email="xue@example.com")
    values = [{"key": segment, "value": "零售"}, {"key": remark, "value": "重要客户，优先跟进"}]
    site.data(SET_FIELDS, {"i": {"customerId": customer, "values": values}})

    sign_in(page, site, "sales", "li.na")
    page.goto(f"{site.origin}/#/customers/{customer}")
    details = page.locator("#details-title + dl")
    expect(details.locator(f'dd[data-custom-field="{segment}"]')).to_have_text("零售")
    expect(details.locator(f'dd[data-custom-field="{remark}"]')).to_have_text("重要客户，优先跟进")
    expect(details).to_contain_text("行业细分")

    # Set one from the profile: the choice not in the list is refused under the value.
    form = page.locator("#form-setCustomFields")
    form.get_by_label("自定义字段").select_option(channels)
    form.get_by_label("选项（逗号分隔）").fill("wechat, fax")
    form.get_by_role("button", name="提交").click()
    expect(form.locator("#custom-field-value-error")).to_contain_text("VALIDATION")
    form.get_by_label("选项（逗号分隔）").fill("wechat, email")
    form.get_by_role("button", name="提交").click()
    expect(form.get_by_role("status")).to_contain_text("已保存")
    channel_tags = details.locator(f'dd[data-custom-field="{channels}"] .tag')
    expect(channel_tags).to_have_text(["email", "wechat"])  # the API keeps choices sorted

    form.get_by_label("自定义字段").select_option(segment)
    form.get_by_label("值（留空表示清除）").select_option("金融")
    form.get_by_role("button", name="提交").click()
    expect(details.locator(f'dd[data-custom-field="{segment}"]')).to_have_text("金融")
    screenshot(page, "profile-custom-fields")

    # An analyst reads the choice but not the personal TEXT value, and has no form.
    analyst_context, analyst_guard = new_context(page.context.browser, site)
    try:
        analyst = analyst_context.new_page()
        sign_in(analyst, site, "analyst")
        analyst.goto(f"{site.origin}/#/customers/{customer}")
        analyst_details = analyst.locator("#details-title + dl")
        expect(analyst_details.locator(f'dd[data-custom-field="{segment}"]')).to_have_text("金融")
        expect(analyst_details.locator(f'dd[data-custom-field="{remark}"]')).to_have_text("已隐藏")
        expect(analyst.locator("#form-setCustomFields")).to_have_count(0)
        assert "优先跟进" not in analyst.content()
    finally:
        analyst_context.close()
    assert analyst_guard.foreign == [] and analyst_guard.script_errors == []
