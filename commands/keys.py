"""The per-process key ring: which data key seals which customer's fields, right now.

Caching policy, and why:

- **Forgetting in this process is immediate and permanent.** A forget marks the customer
  as *being forgotten* before its transaction starts, so from the instant it may commit no
  reader in this process decrypts that customer; when it commits the mark becomes a
  tombstone kept for the life of the process (ids only, 16 bytes each), and the cached key
  is dropped. If the transaction fails the mark is lifted again. A reader that fetched the
  wrapped key from the database concurrently re-checks the marks before caching or using
  it, so a late fetch cannot resurrect the key. A key row found missing is tombstoned
  too: keys commit with the customer's first event and are only ever deleted, so a
  customer whose events are readable but whose key is absent has been forgotten.
- **Other processes learn through a short TTL, and through the event itself.** Keys fetched
  from the database are cached for `ttl` seconds (default 5): a re-check on every decode
  would add a round trip per event read, which the write path (which replays aggregates)
  and the relay cannot afford. Any process that decodes a `CustomerForgotten` event
  (the relay, projections, an aggregate load) tombstones that customer on the spot, so the
  stale window only covers processes that have not yet seen the event, and never exceeds
  the TTL. Writes cannot outlive a forget either way: every write to a customer's stream
  conflicts with the forget on the stream version, and complaint writes re-check the key
  row under the event table lock.
- **New keys are staged per operation, not shared**, in a context variable: a
  registration's key is visible to the mapper of that save only until it commits, and is
  published to the cache afterwards. Two racing registrations of one id therefore can
  never leave the losing key in the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from commands.crypto import KeyDestroyed, MasterKey

FetchWrapped = Callable[[Sequence[UUID]], Mapping[UUID, bytes]]

_staged: ContextVar[Mapping[UUID, AESGCM] | None] = ContextVar("crm_staged_keys", default=None)


class KeyRing:
    """Data keys by customer id: staged, cached with a TTL, or tombstoned."""

    def __init__(
        self,
        master: MasterKey,
        fetch_wrapped: FetchWrapped,
        *,
        ttl: float = 5.0,
        max_size: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._master = master
        self._fetch_wrapped = fetch_wrapped
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[UUID, tuple[AESGCM, float]] = OrderedDict()
        self._forgotten: set[UUID] = set()
        self._forgetting: dict[UUID, int] = {}

    # -- creating -------------------------------------------------------------------------

    def new_key(self, customer_id: UUID) -> tuple[AESGCM, bytes]:
        """A fresh cipher for a new customer and the wrapped key to store with it."""
        key, wrapped = self._master.new_data_key(customer_id)
        return AESGCM(key), wrapped

    # -- reading --------------------------------------------------------------------------

    def for_read(self, customer_id: UUID) -> AESGCM | None:
        """The cipher to open this customer's fields, or None once forgotten."""
        staged = _staged.get()
        if staged is not None and customer_id in staged:
            return staged[customer_id]
        with self._lock:
            if self._is_dead(customer_id):
                return None
            cipher = self._cached(customer_id)
        if cipher is not None:
            return cipher
        return self._load(customer_id)

    def for_write(self, customer_id: UUID) -> AESGCM:
        """The cipher to seal new fields; `KeyDestroyed` once the customer is forgotten.

        Unlike reads, a pending forget does not block writes: the forgetting save itself
        may still seal earlier events of the same batch.
        """
        staged = _staged.get()
        if staged is not None and customer_id in staged:
            return staged[customer_id]
        with self._lock:
            if customer_id in self._forgotten:
                raise KeyDestroyed(customer_id)
            cipher = self._cached(customer_id)
        if cipher is None:
            cipher = self._load(customer_id, for_write=True)
        if cipher is None:
            raise KeyDestroyed(customer_id)
        return cipher

    def prefetch(self, customer_ids: Iterable[UUID]) -> None:
        """Load many keys in one query (batch decoding: relay, rebuilds)."""
        with self._lock:
            wanted = [
                cid
                for cid in set(customer_ids)
                if not self._is_dead(cid) and self._cached(cid) is None
            ]
        if wanted:
            self._store(self._fetch_wrapped(wanted), wanted, for_write=False)

    def refresh(self, customer_ids: Iterable[UUID]) -> None:
        """Load these keys from the database even when cached: for the compliance reads
        (audit trail, past states, subject export), which must not open what a forget
        committed by another process has just erased. One query per read; the TTL
        stays for the hot paths."""
        with self._lock:
            wanted = [cid for cid in set(customer_ids) if not self._is_dead(cid)]
        if wanted:
            self._store(self._fetch_wrapped(wanted), wanted, for_write=False)

    # -- forgetting -----------------------------------------------------------------------

    def tombstone(self, customer_id: UUID) -> None:
        """Never decrypt this customer again in this process (its key is gone)."""
        with self._lock:
            self._forgotten.add(customer_id)
            self._cache.pop(customer_id, None)

    def is_forgotten(self, customer_id: UUID) -> bool:
        with self._lock:
            return customer_id in self._forgotten

    @contextmanager
    def writing(
        self, new_keys: Mapping[UUID, AESGCM], forgetting: Iterable[UUID] = ()
    ) -> Iterator[None]:
        """Around one save: stage new keys, hold back forgotten ones, settle after.

        On success new keys are published to the cache and forgotten customers
        tombstoned; on failure staged keys vanish and the forget marks are lifted.
        """
        dying = list(dict.fromkeys(forgetting))
        with self._lock:
            for cid in dying:
                self._forgetting[cid] = self._forgetting.get(cid, 0) + 1
                self._cache.pop(cid, None)
        token = _staged.set(dict(new_keys) if new_keys else None)
        succeeded = False
        try:
            yield
            succeeded = True
        finally:
            _staged.reset(token)
            with self._lock:
                for cid in dying:
                    count = self._forgetting.pop(cid) - 1
                    if count:
                        self._forgetting[cid] = count
                    if succeeded:
                        self._forgotten.add(cid)
                if succeeded:
                    now = self._clock()
                    for cid, cipher in new_keys.items():
                        if cid not in self._forgotten:
                            self._put(cid, cipher, now)

    # -- internals (the caller holds the lock where noted) ---------------------------------

    def _is_dead(self, customer_id: UUID) -> bool:
        """Lock held."""
        return customer_id in self._forgotten or customer_id in self._forgetting

    def _cached(self, customer_id: UUID) -> AESGCM | None:
        """Lock held. A fresh cached cipher, dropping an expired one."""
        entry = self._cache.get(customer_id)
        if entry is None:
            return None
        cipher, expires = entry
        if expires < self._clock():
            del self._cache[customer_id]
            return None
        self._cache.move_to_end(customer_id)
        return cipher

    def _put(self, customer_id: UUID, cipher: AESGCM, now: float) -> None:
        """Lock held."""
        self._cache[customer_id] = (cipher, now + self._ttl)
        self._cache.move_to_end(customer_id)
        while len(self._cache) > self._max_size:
            self._cache.popitem(last=False)

    def _load(self, customer_id: UUID, *, for_write: bool = False) -> AESGCM | None:
        loaded = self._store(self._fetch_wrapped([customer_id]), [customer_id], for_write)
        return loaded.get(customer_id)

    def _store(
        self, wrapped: Mapping[UUID, bytes], asked: Sequence[UUID], for_write: bool
    ) -> dict[UUID, AESGCM]:
        ciphers = {cid: AESGCM(self._master.unwrap(cid, blob)) for cid, blob in wrapped.items()}
        usable: dict[UUID, AESGCM] = {}
        with self._lock:
            now = self._clock()
            for cid in asked:
                cipher = ciphers.get(cid)
                if cipher is None:
                    # Keys commit with the customer's first event and are only ever
                    # deleted: a customer with readable events and no key is forgotten.
                    self._forgotten.add(cid)
                    self._cache.pop(cid, None)
                    continue
                # Re-check: a forget may have started or committed while we fetched.
                if cid in self._forgotten or (not for_write and cid in self._forgetting):
                    continue
                if cid not in self._forgetting:
                    self._put(cid, cipher, now)
                usable[cid] = cipher
        return usable
