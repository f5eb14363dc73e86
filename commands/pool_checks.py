"""When a pooled connection is pinged on checkout, and what a failed ping does.

After a PostgreSQL restart every pooled connection is dead. A pool's pre-ping finds
them one checkout at a time, and its background reconnects back off while the server
is still down, so the first query after a restart waited out the whole pool timeout
(30 s, measured). One dead connection means all are: a failed ping checks the whole
pool at once (`pool.check()`).

A connection checked out again within `PING_AFTER_IDLE` seconds is not pinged: the
ping is one extra round trip per checkout (a fifth of the single-command path's time,
profiled; one of the three round trips of a customer list page), and a restart takes
longer than that, so connections that lived through one have been idle long enough to
be pinged. A query on a connection that died within the second fails as
`OperationalError`, which every user of these pools retries once on another connection
(the recorder, the loader, the gateway's `ReadPool`).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

PING_AFTER_IDLE = 1.0
"""Seconds a pooled connection may sit idle before its checkout is pinged."""


class CheckoutPing:
    """A pool's `check` callback: `ping(conn)` only for connections idle for
    `PING_AFTER_IDLE` seconds or more; when it fails, `replace_dead()` (the pool's
    `check`) before the failure goes on to the pool, which discards the connection."""

    def __init__(self, ping: Callable[[Any], None], replace_dead: Callable[[], None]) -> None:
        self.ping = ping
        self.replace_dead = replace_dead
        self.last_checkout: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def __call__(self, conn: Any) -> None:
        now = time.monotonic()
        recent = now - self.last_checkout.get(conn, -PING_AFTER_IDLE) < PING_AFTER_IDLE
        self.last_checkout[conn] = now
        if recent:
            return
        try:
            self.ping(conn)
        except Exception:
            self.replace_dead()
            raise
