"""An erasure's scrub of the analytics folder holds each dataset folder's compaction
lock while it lists and rewrites the folder's files: the worker folds and deletes parts
meanwhile, and a part deleted between listing and rewrite stopped an erasure half-done
(pure: files in a temporary folder, the lock taken by this test as the worker would)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from uuid import uuid4

import pyarrow as pa
import pyarrow.parquet as pq

from compliance.analytics import scrub
from projections.analytics.parquet import LOCK_NAME, folder_lock


def test_the_scrub_waits_for_the_compaction_lock_and_scrubs_what_is_there_then(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / LOCK_NAME).touch()
    customer = uuid4()
    doomed = folder / "part-1.parquet"
    pq.write_table(pa.table({"customer_id": [str(customer)], "name": ["王秘密"]}), doomed)
    changed: list[str] = []
    with folder_lock(folder):  # the worker compacting: it will delete part-1
        worker = threading.Thread(target=lambda: changed.extend(scrub(tmp_path, customer)))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive(), "the scrub waits for the lock"
        folded = folder / "compact.parquet"
        pq.write_table(pq.read_table(doomed), folded)
        doomed.unlink()
    worker.join(timeout=30)
    assert changed == ["parquet:customers/compact.parquet"]
    assert pq.read_table(folded).column("name").to_pylist() == [None]
