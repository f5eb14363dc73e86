"""`crm report`: one self-contained HTML file (charts inlined as PNG) from the catalog.

What a sales manager looks at: headline numbers, the funnel with conversion per step,
lifecycle and tier distributions, the cohort retention heat map and revenue by month.
Every number is queried from the catalog's views at the time of writing.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from projections.analytics.sql import literal
from projections.business_time import DEFAULT_TIMEZONE, month_start
from projections.business_time import zone as business_zone
from projections.vocabulary import LIFECYCLE_STAGES, TIERS

ACCENT = "#2f6fb0"
TIER_COLOURS = {"VIP": "#8e44ad", "GOLD": "#d4a017", "SILVER": "#9aa5b1", "BRONZE": "#b0723a"}


@dataclass(frozen=True)
class Headline:
    customers: int
    orders: int
    revenue: float
    events: int


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[Any, ...]]:
    return con.execute(query).fetchall()


def funnel_chart(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(con, "SELECT stage, reached, conversion FROM funnel ORDER BY rank")
    figure, axes = plt.subplots(figsize=(7, 3.6))
    stages = [r[0] for r in rows][::-1]
    reached = [r[1] for r in rows][::-1]
    bars = axes.barh(stages, reached, color=ACCENT)
    for bar, row in zip(bars, rows[::-1], strict=True):
        label = f"{row[1]:,}" + (f"  ({row[2]:.0%})" if row[2] is not None else "")
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + label, va="center")
    axes.set_title("Funnel: customers reaching each stage (conversion from the previous)")
    axes.set_xlim(0, max(reached or [1]) * 1.3)
    return _png(figure)


def distribution_chart(
    con: duckdb.DuckDBPyConnection, column: str, order: tuple[str, ...], title: str
) -> str:
    counts = dict(_rows(con, f"SELECT {column}, count(*) FROM customers GROUP BY 1"))
    values = [counts.get(name, 0) for name in order]
    colours = [TIER_COLOURS.get(name, ACCENT) for name in order]
    figure, axes = plt.subplots(figsize=(7, 3.2))
    axes.bar(order, values, color=colours)
    for x, value in enumerate(values):
        axes.text(x, value, f"{value:,}", ha="center", va="bottom")
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=20)
    return _png(figure)


def cohort_chart(
    con: duckdb.DuckDBPyConnection, horizon: int = 12, zone: str = DEFAULT_TIMEZONE
) -> str:
    rows = _rows(
        con,
        f"SELECT strftime(cohort_month, '%Y-%m'), months_since, retention FROM cohorts "
        f"WHERE months_since BETWEEN 0 AND {horizon - 1} ORDER BY 1, 2",
    )
    cohorts = sorted({r[0] for r in rows})
    if not cohorts:  # nobody registered yet: an empty chart, not an empty image
        figure, axes = plt.subplots(figsize=(8, 1.6))
        axes.text(0.5, 0.5, "no customers yet", ha="center", va="center")
        axes.set_axis_off()
        return _png(figure)
    # 0% where the month has passed without a buyer; blank where it has not come yet.
    newest = month_start(datetime.now(UTC), zone).strftime("%Y-%m")
    grid = [
        [0.0 if _months_between(c, newest) >= since else float("nan") for since in range(horizon)]
        for c in cohorts
    ]
    for month, since, retention in rows:
        grid[cohorts.index(month)][int(since)] = float(retention)
    figure, axes = plt.subplots(figsize=(8, 0.35 * len(cohorts) + 1.6))
    colours = matplotlib.colormaps["Blues"].copy()
    colours.set_bad("#e4e4e4")  # months still to come
    image = axes.imshow(grid, aspect="auto", cmap=colours, vmin=0)
    axes.set_yticks(range(len(cohorts)), cohorts)
    axes.set_xticks(range(horizon))
    axes.set_xlabel("months since registration")
    axes.set_title("Cohort retention: share of each registration month buying")
    figure.colorbar(image, ax=axes, format=matplotlib.ticker.PercentFormatter(1.0))
    return _png(figure)


def _months_between(first: str, last: str) -> int:
    """Whole months from one "YYYY-MM" to another."""
    (y1, m1), (y2, m2) = (map(int, first.split("-")), map(int, last.split("-")))
    return (y2 - y1) * 12 + (m2 - m1)


def revenue_chart(con: duckdb.DuckDBPyConnection, zone: str = DEFAULT_TIMEZONE) -> str:
    """Revenue per business month in `zone` (as the cohorts view counts months)."""
    rows = _rows(
        con,
        f"SELECT strftime(occurred_at AT TIME ZONE {literal(zone)}, '%Y-%m'), "
        "sum(order_total_cny) FROM purchases WHERE line_no = 1 GROUP BY 1 ORDER BY 1",
    )
    figure, axes = plt.subplots(figsize=(8, 3.2))
    axes.bar([r[0] for r in rows], [float(r[1]) for r in rows], color=ACCENT)
    axes.set_title("Revenue by month (CNY)")
    axes.tick_params(axis="x", labelrotation=45)
    axes.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    return _png(figure)


def headline(con: duckdb.DuckDBPyConnection) -> Headline:
    customers = _rows(con, "SELECT count(*) FROM customers")[0][0]
    orders, revenue = _rows(
        con, "SELECT count(*), coalesce(sum(order_total_cny), 0) FROM purchases WHERE line_no = 1"
    )[0]
    events = _rows(con, "SELECT count(*) FROM events")[0][0]
    return Headline(int(customers), int(orders), float(revenue), int(events))


def render(
    con: duckdb.DuckDBPyConnection, now: datetime | None = None, zone: str = DEFAULT_TIMEZONE
) -> str:
    at = (now or datetime.now(UTC)).astimezone(business_zone(zone)).strftime("%Y-%m-%d %H:%M %Z")
    h = headline(con)
    charts = [
        ("Funnel", funnel_chart(con)),
        (
            "Lifecycle stages",
            distribution_chart(con, "lifecycle_stage", LIFECYCLE_STAGES, "Lifecycle stage"),
        ),
        ("Tiers", distribution_chart(con, "tier", TIERS, "Customer tier")),
        ("Cohort retention", cohort_chart(con, zone=zone)),
        ("Revenue by month", revenue_chart(con, zone)),
    ]
    cards = "".join(
        f'<div class="card"><div class="n">{value}</div><div>{html.escape(label)}</div></div>'
        for label, value in (
            ("live customers", f"{h.customers:,}"),
            ("orders", f"{h.orders:,}"),
            ("revenue (CNY)", f"{h.revenue:,.2f}"),
            ("events", f"{h.events:,}"),
        )
    )
    sections = "".join(
        f'<section><h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{png}"></section>'
        for title, png in charts
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRM report {at}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
.cards {{ display: flex; gap: 1rem; }}
.card {{ flex: 1; padding: 1rem; background: #f3f6fa; border-radius: 8px; }}
.card .n {{ font-size: 1.6rem; font-weight: 600; color: {ACCENT}; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>CRM report</h1><p>From the analytics catalog, {at}.</p>
<div class="cards">{cards}</div>
{sections}
</body></html>
"""


def write_report(
    con: duckdb.DuckDBPyConnection, target: Path, zone: str = DEFAULT_TIMEZONE
) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(con, zone=zone), encoding="utf-8")
    return target
