"""`CheckoutPing`: a pooled connection is pinged on checkout only after an idle second,
and a failed ping replaces every dead connection at once."""

from __future__ import annotations

import pytest

from commands import pool_checks
from commands.pool_checks import PING_AFTER_IDLE, CheckoutPing


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Conn:
    """A stand-in connection (weak-referenceable, as the pool's are)."""


def test_only_a_connection_idle_for_a_second_is_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(pool_checks.time, "monotonic", clock)
    pinged: list[Conn] = []
    check = CheckoutPing(pinged.append, lambda: None)
    a, b = Conn(), Conn()

    check(a)  # never seen: pinged
    clock.now += PING_AFTER_IDLE / 2
    check(a)  # checked out again within the second: not pinged
    check(b)
    clock.now += PING_AFTER_IDLE / 2 + 0.01
    check(b)  # half a second after its last checkout
    clock.now += PING_AFTER_IDLE
    check(a)  # idle for a second: pinged again
    assert pinged == [a, b, a]


def test_a_failed_ping_replaces_the_dead_connections_and_fails_the_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(pool_checks.time, "monotonic", clock)
    replaced: list[bool] = []

    def dead(_conn: object) -> None:
        raise ConnectionError("server closed the connection")

    check = CheckoutPing(dead, lambda: replaced.append(True))
    with pytest.raises(ConnectionError):
        check(Conn())
    assert replaced == [True]
