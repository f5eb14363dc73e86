"""The gateway's read connections: a psycopg pool, used from worker threads.

Every query function of `projections.queries` is synchronous; `ReadPool.run` borrows a
connection and runs one of them in a thread, so the event loop never blocks on the
database. The pool counts the SQL statements it sends (`statements`) and the reads it
runs (`trips`), which is how the tests prove that a page of customers costs a bounded
handful of queries, and a list page or a 360° profile one trip.

A PostgreSQL restart kills every pooled connection while it sits idle. So a connection
idle for a second or more is checked on checkout (`ConnectionPool.check_connection`,
one round trip; `commands.pool_checks` says why not every checkout). One dead
connection means the others are dead too: the whole pool is checked at once
(`pool.check()`), because psycopg_pool would otherwise find them one checkout at a time,
backing off 1, 2, 4 s in between, and time out a read. A read that still loses its
connection midway (one that died within the second, unchecked) is run once more on a
fresh one: reads have no side effects.

jsonb columns are decoded with orjson: a page of profiles carries several jsonb values
per row (consents, needs, surveys, touches by channel, custom fields), and the standard
library's decoder was half of reading them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson
from anyio import to_thread
from psycopg import Connection, Cursor, OperationalError
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from commands.pool_checks import CheckoutPing

P = ParamSpec("P")
T = TypeVar("T")


class StatementCounter:
    """A thread-safe count of statements executed on the pool's connections.

    The pool's checkout check is not counted: it is the pool's, not the query's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paused = threading.local()
        self.count = 0

    def add(self, n: int = 1) -> None:
        if getattr(self._paused, "on", False):
            return
        with self._lock:
            self.count += n

    @contextmanager
    def paused(self) -> Iterator[None]:
        self._paused.on = True
        try:
            yield
        finally:
            self._paused.on = False


def _counting_cursor(counter: StatementCounter) -> type[Cursor[Any]]:
    class CountingCursor(Cursor[Any]):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            counter.add()
            return super().execute(*args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> None:
            counter.add()
            super().executemany(*args, **kwargs)

    return CountingCursor


class ReadPool:
    """A small pool of autocommit connections for read-model and store queries."""

    def __init__(
        self, database_url: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 10.0
    ) -> None:
        self.database_url = database_url
        """For work that opens its own connection (the data-subject export's read models)."""
        self.counter = StatementCounter()
        self.trips = StatementCounter()
        """Reads run (`call`/`run`), each on one borrowed connection: a request's trips
        to the pool, each a thread hop and a checkout."""
        cursor_class = _counting_cursor(self.counter)

        def configure(conn: Connection[Any]) -> None:
            conn.cursor_factory = cursor_class
            set_json_loads(orjson.loads, conn)

        self.pool = ConnectionPool(
            database_url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True},
            configure=configure,
            check=CheckoutPing(self._ping, lambda: self.pool.check()),
            open=True,
            name="gateway-reads",
        )

    def _ping(self, conn: Connection[Any]) -> None:
        with self.counter.paused():
            ConnectionPool.check_connection(conn)

    @property
    def statements(self) -> int:
        return self.counter.count

    def call(
        self, fn: Callable[Concatenate[Connection[Any], P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(conn, ...)` on a pooled connection in this thread."""
        self.trips.add()
        return self._retrying(lambda conn: fn(conn, *args, **kwargs))

    def ping(self, timeout: float) -> None:
        """`SELECT 1` the way reads run (same pool, check and retry): raises if reads fail."""
        self._retrying(lambda conn: conn.execute("SELECT 1"), timeout=timeout)

    def _retrying(self, work: Callable[[Connection[Any]], T], timeout: float | None = None) -> T:
        """`work` once more on a fresh connection if its connection was lost midway (the
        pool discards the broken one); a server-side error is not retried."""
        lost: Connection[Any] | None = None
        try:
            with self.pool.connection(timeout=timeout) as conn:
                lost = conn
                return work(conn)
        except OperationalError:
            if lost is None or not lost.closed:
                raise
            self.pool.check()
        with self.pool.connection(timeout=timeout) as conn:
            return work(conn)

    async def run(
        self, fn: Callable[Concatenate[Connection[Any], P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(conn, ...)` on a pooled connection in a worker thread."""
        return await to_thread.run_sync(lambda: self.call(fn, *args, **kwargs))

    def close(self) -> None:
        self.pool.close()
