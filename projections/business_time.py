"""Business dates in the deployment's time zone (``CRM_TIMEZONE``, default Asia/Shanghai).

Times are stored in UTC (RULES.md), but a day, a month or "today" is the one the
business lives in: an order at 2025-01-31 17:00 UTC was placed on 1 February in
Shanghai and belongs to February's cohort there. Everything that buckets by date
(cohort months, funnel windows given as dates, the report's months) asks this module,
so the zone is one setting and one rule.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE: Final = "Asia/Shanghai"


class UnknownTimeZone(ValueError):
    """Not an IANA time zone name (``Asia/Shanghai``, ``UTC``, ``Europe/Berlin``)."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; `UnknownTimeZone` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZone(
            f"unknown time zone {name!r} (an IANA name, e.g. Asia/Shanghai)"
        ) from error


def local_date(moment: datetime, name: str) -> date:
    """The business day of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("the moment needs a time zone")
    return moment.astimezone(zone(name)).date()


def month_start(moment: datetime, name: str) -> date:
    """The first day of the business month of an aware moment."""
    return local_date(moment, name).replace(day=1)


def day_start(day: date, name: str) -> datetime:
    """Midnight at the start of a business day, as an aware moment in that zone."""
    return datetime.combine(day, time(0), tzinfo=zone(name))


def day_window(
    first: date | None, last: date | None, name: str
) -> tuple[datetime | None, datetime | None]:
    """[start of `first`, start of the day after `last`): whole business days, inclusive."""
    start = day_start(first, name) if first is not None else None
    end = day_start(last + timedelta(days=1), name) if last is not None else None
    return start, end


def today(now: datetime, name: str) -> date:
    """ "Today" for the business, at the moment `now`."""
    return local_date(now, name)
