"""`crm up` starts every process at once, each opening the store on the same database:
table creation must not fail any of them (it did: "tuple concurrently updated")."""

from __future__ import annotations

import threading

import pytest

from commands.application import CrmApplication

pytestmark = pytest.mark.integration


def test_many_processes_opening_a_fresh_store_at_once_all_succeed(
    database_url: str, master_key: str
) -> None:
    starters = 6
    barrier = threading.Barrier(starters)
    failures: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            CrmApplication(database_url, master_key=master_key, pool_size=1).close()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
