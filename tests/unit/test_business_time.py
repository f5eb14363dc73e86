"""Business dates in the deployment's zone: the day and month around midnight UTC vs
Shanghai, whole-day windows, the setting's coded error, and the cohorts view's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ops.config import load_settings_checked
from ops.errors import SettingError
from projections.analytics.catalog import cohorts_view
from projections.business_time import (
    DEFAULT_TIMEZONE,
    UnknownTimeZone,
    day_window,
    local_date,
    month_start,
    today,
    zone,
)

# 2025-01-31 17:00 UTC is 2025-02-01 01:00 in Shanghai (UTC+8).
LATE_JANUARY_UTC = datetime(2025, 1, 31, 17, tzinfo=UTC)


def test_a_moment_after_midnight_in_shanghai_is_the_next_day_and_month() -> None:
    assert local_date(LATE_JANUARY_UTC, "UTC") == date(2025, 1, 31)
    assert local_date(LATE_JANUARY_UTC, "Asia/Shanghai") == date(2025, 2, 1)
    assert month_start(LATE_JANUARY_UTC, "UTC") == date(2025, 1, 1)
    assert month_start(LATE_JANUARY_UTC, DEFAULT_TIMEZONE) == date(2025, 2, 1)
    assert today(LATE_JANUARY_UTC - timedelta(hours=1), DEFAULT_TIMEZONE) == date(2025, 2, 1)
    assert today(LATE_JANUARY_UTC - timedelta(hours=1, seconds=1), DEFAULT_TIMEZONE) == date(
        2025, 1, 31
    )
    with pytest.raises(ValueError, match="time zone"):
        local_date(datetime(2025, 1, 1), "UTC")


def test_a_day_window_covers_whole_business_days_with_their_offset() -> None:
    start, end = day_window(date(2025, 2, 1), date(2025, 2, 28), "Asia/Shanghai")
    assert start is not None and end is not None
    assert start.isoformat() == "2025-02-01T00:00:00+08:00"
    assert end.isoformat() == "2025-03-01T00:00:00+08:00"
    assert start.astimezone(UTC) == datetime(2025, 1, 31, 16, tzinfo=UTC)
    assert start <= LATE_JANUARY_UTC < end
    assert day_window(None, None, "UTC") == (None, None)


def test_an_unknown_zone_is_a_setting_error_naming_crm_timezone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownTimeZone):
        zone("Mars/Olympus")
    monkeypatch.setenv("CRM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingError) as error:
        load_settings_checked()
    assert error.value.setting == "CRM_TIMEZONE"
    assert "unknown time zone" in str(error.value)
    monkeypatch.setenv("CRM_TIMEZONE", "Europe/Berlin")
    assert load_settings_checked().timezone == "Europe/Berlin"
    monkeypatch.delenv("CRM_TIMEZONE")
    assert load_settings_checked().timezone == "Asia/Shanghai"
    (tmp_path / "crm.toml").write_text('timezone = "UTC"\n')
    assert load_settings_checked().timezone == "UTC"


def _cohorts(zone_name: str) -> list[tuple[str, int, int, int, float]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE customer_dim (customer_id INTEGER, registered_at TIMESTAMPTZ)")
    con.execute(
        "CREATE TABLE purchases (customer_id INTEGER, occurred_at TIMESTAMPTZ, line_no INTEGER,"
        " order_total_cny DECIMAL(18, 2))"
    )
    con.execute(
        "INSERT INTO customer_dim VALUES (1, '2025-01-10 00:00+00'), (2, '2025-01-31 17:00+00'),"
        " (3, '2025-02-10 00:00+00'), (4, '2025-03-05 00:00+00')"
    )
    # Customer 3 (February) and 4 (March) never buy: their months must not vanish.
    con.execute(
        "INSERT INTO purchases VALUES (1, '2025-01-20 00:00+00', 1, 100),"
        " (1, '2025-03-02 00:00+00', 1, 50), (2, '2025-02-03 00:00+00', 1, 70)"
    )
    con.execute(cohorts_view(zone_name))
    rows = con.execute(
        "SELECT strftime(cohort_month, '%Y-%m'), months_since, cohort_size, active_customers,"
        " revenue FROM cohorts"
    ).fetchall()
    return [(m, int(s), int(n), int(a), float(r)) for m, s, n, a, r in rows]


def test_cohorts_keep_a_registration_month_without_buyers_with_zeros() -> None:
    rows = _cohorts("UTC")
    months = {r[0] for r in rows}
    assert months == {"2025-01", "2025-02", "2025-03"}
    assert ("2025-03", 0, 1, 0, 0.0) in rows
    assert ("2025-02", 0, 1, 0, 0.0) in rows and ("2025-02", 1, 1, 0, 0.0) in rows
    # January (both customers in UTC): one bought in month 0, nobody in 1, one in 2.
    january = [r for r in rows if r[0] == "2025-01"]
    assert january == [
        ("2025-01", 0, 2, 1, 100.0),
        ("2025-01", 1, 2, 1, 70.0),
        ("2025-01", 2, 2, 1, 50.0),
    ]
    assert sum(r[4] for r in rows) == 220.0


def test_cohorts_count_months_in_the_business_zone() -> None:
    rows = _cohorts("Asia/Shanghai")
    # Customer 2 registered on 1 February in Shanghai: February's cohort has two.
    assert ("2025-01", 0, 1, 1, 100.0) in rows
    assert ("2025-02", 0, 2, 1, 70.0) in rows
