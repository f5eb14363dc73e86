"""`revenueByMonth`: the dashboard's revenue chart (`projections.revenue`)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from projections.revenue import MonthRevenue as MonthRow


@strawberry.type(description="Revenue of one calendar month in the business zone.")
class MonthRevenue:
    month: str = strawberry.field(description='"YYYY-MM".')
    total: Decimal = strawberry.field(description="In the base currency (CNY).")
    orders: int


def month_revenue(row: MonthRow) -> MonthRevenue:
    return MonthRevenue(month=row.month, total=row.total_cny, orders=row.orders)
