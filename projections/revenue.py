"""Revenue by month, in CNY, from the purchases read model (`rm_purchases`).

Months are calendar months in the deployment's business zone (`CRM_TIMEZONE`), the last
`months` of them up to the one holding `now`, every month listed (zero when nothing was
bought). Purchases of merged duplicates and of forgotten customers count: revenue is a
fact, not personal data. A scan of the window's purchases (by `occurred_at`); fine for a
dashboard, analysts use DuckDB for more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import Connection

MAX_MONTHS = 60

REVENUE_SQL = """
WITH this_month AS (
    SELECT date_trunc('month', %(now)s AT TIME ZONE %(zone)s) AS month
),
months AS (
    SELECT generate_series(month - make_interval(months => %(months)s - 1), month, '1 month')
        AS month
    FROM this_month
),
sums AS (
    SELECT date_trunc('month', occurred_at AT TIME ZONE %(zone)s) AS month,
           sum(total_cny) AS total, count(*) AS orders
    FROM rm_purchases
    WHERE occurred_at >= (SELECT min(month) FROM months) AT TIME ZONE %(zone)s
    GROUP BY 1
)
SELECT to_char(m.month, 'YYYY-MM'), coalesce(s.total, 0.00), coalesce(s.orders, 0)
FROM months AS m LEFT JOIN sums AS s USING (month)
ORDER BY m.month
"""


@dataclass(frozen=True)
class MonthRevenue:
    month: str  # "2024-05"
    total_cny: Decimal
    orders: int


def revenue_by_month(
    conn: Connection[Any], *, now: datetime, zone: str, months: int = 12
) -> list[MonthRevenue]:
    rows = conn.execute(REVENUE_SQL, {"now": now, "zone": zone, "months": months}).fetchall()
    return [MonthRevenue(str(r[0]), Decimal(r[1]), int(r[2])) for r in rows]
