"""The in-process account directory used for attribution, kept in step with the accounts table by deltas.

Every process holds an index of all accounts. A transaction that changes accounts bumps a shared counter
(``counters.accounts_version``, under its row lock, so versions commit in order) and stamps each changed row
with the new value (``accounts.version``). A process remembers the version it has applied; before it
attributes it reads the counter (a primary-key lookup) and, when the counter moved, applies only the rows
changed since (``changed_since``) to its index. So a committed change is seen by the next signal in any
process, and an import of 50,000 accounts costs each process the rows it changed, not 100 rebuilds.

A new process does not build the index from the rows (seconds at 50,000 accounts): it loads the newest
snapshot of an index some process wrote (``account_index_snapshots``, one per code version) and applies the
rows changed since. A process that built the index writes a fresh one in the background (from ``SNAPSHOT_FROM``
accounts on); one that applied ``SNAPSHOT_AFTER`` rows since writes one once the directory has been quiet for
``QUIET_SECONDS`` (an import in chunks is one change, not one snapshot per few chunks: writing one costs as much
as the whole index, so snapshots written while an import goes on made each chunk slower as the directory grew),
unless another process already wrote one as new. A process that never stops changing still writes one after
as many rows as the index holds (the cost per row applied stays constant).

Every process also catches up in the background (``warm``, every ``POLL_SECONDS``), so one that served no
request during a large import does not make its next signal wait for the whole delta (or a rebuild).

The index is mutated in place, so attribution reads it under a shared lock and a catch-up writes under an
exclusive one (both short: a delta of a few hundred rows is a few milliseconds). A delta larger than
``REBUILD_ABOVE`` rows is cheaper as a fresh build, made beside the live index and swapped in.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app.accounts.models import Account, AccountIndexSnapshot
from app.attribution import AccountEntry, AccountIndex
from app.attribution.matcher import state_fingerprint
from app.core import versions
from app.core.dbutil import insert_for_dialect
from app.core.timeutil import utcnow

VERSION_COUNTER = "accounts_version"
# Beyond this many changed rows a fresh build (made while readers go on with the old index) beats updating in place.
REBUILD_ABOVE = 5000
# A smaller directory builds in well under a second: not worth a snapshot.
SNAPSHOT_FROM = 5000
# A new process applies this many rows over a snapshot in well under 100 ms: fewer are not worth a new one.
SNAPSHOT_AFTER = 1000
# No change for this long (plus up to as much again at random, so that processes seldom write at once): the
# import or edit is over, write the snapshot.
QUIET_SECONDS = 2.0
POLL_SECONDS = 1.0
log = logging.getLogger("signal_pipeline.accounts")

_ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
_COLUMNS: tuple[Any, ...] = tuple(
    _ACCOUNTS.c[name] for name in ("id", "crm_id", "name", "legal_name", "aliases", "domains", "country")
)
_SNAPSHOTS = AccountIndexSnapshot.__table__  # type: ignore[attr-defined]


def bump_version(session: Session) -> int:
    """Call in the transaction that changes accounts, before writing them; stamp each changed row with the
    returned value (``Account.version``)."""
    return versions.bump(session, VERSION_COUNTER)


def current_version(session: Session | Connection) -> int:
    return versions.read(session, VERSION_COUNTER)


def changed_since(session: Session | Connection, version: int, limit: int | None = None) -> list[AccountEntry]:
    """The accounts stamped with a version above ``version`` (all of them for -1), as index entries."""
    stmt = sa.select(*_COLUMNS)
    if version >= 0:
        stmt = stmt.where(_ACCOUNTS.c.version > version).order_by(_ACCOUNTS.c.version)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(_entries(session.execute(stmt)))


def _entries(rows: Iterable[Any]) -> Iterator[AccountEntry]:
    for id_, crm_id, name, legal_name, aliases, domains, country in rows:
        yield AccountEntry(
            id=str(id_),
            crm_id=crm_id,
            name=name,
            legal_name=legal_name,
            aliases=tuple(aliases or ()),
            domains=tuple(domains or ()),
            country=country,
        )


def load_index(session: Session | Connection) -> AccountIndex:
    """Build the index from the accounts table, reading only the columns it needs (no ORM objects)."""
    index = AccountIndex.build(_entries(session.execute(sa.select(*_COLUMNS))))
    _settle()
    return index


def _settle() -> None:
    # The index is large, long-lived and acyclic: keep it out of the cyclic collector's full passes, which
    # would otherwise stall a request for a noticeable time (reference counting still frees an old index).
    gc.freeze()


def read_snapshot(session: Session | Connection) -> tuple[int, AccountIndex] | None:
    """The newest snapshot written by this code version, with the directory version it reflects."""
    row = session.execute(
        sa.select(_SNAPSHOTS.c.version, _SNAPSHOTS.c.data).where(_SNAPSHOTS.c.fingerprint == state_fingerprint())
    ).first()
    if row is None:
        return None
    index = AccountIndex.loads(row.data)
    _settle()
    return int(row.version), index


def snapshot_version(conn: Session | Connection) -> int | None:
    """The directory version of the stored snapshot for this code version (None: there is none)."""
    stmt = sa.select(_SNAPSHOTS.c.version).where(_SNAPSHOTS.c.fingerprint == state_fingerprint())
    found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def write_snapshot(engine: Engine, version: int, data: bytes) -> None:
    """Keep the snapshot at ``version`` unless a newer one is already there."""
    with engine.begin() as conn:
        stmt = insert_for_dialect(conn.dialect.name, _SNAPSHOTS).values(
            fingerprint=state_fingerprint(), version=version, data=data, created_at=utcnow()
        )
        ex = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["fingerprint"],
                set_={"version": ex.version, "data": ex.data, "created_at": ex.created_at},
                where=_SNAPSHOTS.c.version < ex.version,
            )
        )


class _SharedLock:
    """Many readers or one writer; a waiting writer holds new readers back, so catch-ups are not starved."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def _upsert(index: AccountIndex, entries: list[AccountEntry]) -> None:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # see AccountIndex.build: a burst of small acyclic containers
    try:
        for entry in entries:
            index.upsert(entry)
    finally:
        if gc_was_enabled:
            gc.enable()


class AccountDirectory:
    """This process's copy of the account index, at ``version`` of the shared counter (-1: not loaded)."""

    def __init__(self, snapshot_from: int = SNAPSHOT_FROM) -> None:
        self.snapshot_from = snapshot_from
        self._index = AccountIndex()
        self.version = -1
        self._rw = _SharedLock()
        self._catching_up = threading.Lock()  # one catch-up at a time; the others go on with what is applied
        self._loaded = threading.Event()
        self._applied = 0  # rows applied since the newest snapshot this process knows of
        self._last_change = 0.0  # time.monotonic() of the last delta applied
        self._quiet = QUIET_SECONDS * (1 + random.random())  # spreads the processes' writers apart
        self._engine: Engine | None = None
        self._closing = threading.Event()
        self._snapshot_thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """True once the whole directory is loaded: before that a signal would wait for it."""
        return self._loaded.is_set()

    @contextmanager
    def reading(self, session: Session) -> Iterator[AccountIndex]:
        """The index, caught up with every account change committed before this call, held against changes
        while the caller reads it."""
        # Waits for a catch-up in progress (the background one, most often: it applies what this request must
        # see): a change committed before the request is seen by it, in every process.
        self.catch_up(session, wait=True)
        with self._rw.shared():
            yield self._index

    def catch_up(self, session: Session | Connection, *, wait: bool = False) -> None:
        """Apply the account changes committed since the version this process has (one primary-key read when
        there are none). Without ``wait``, a caller does not queue behind a catch-up in progress (the background
        one does not need to), except before the first load."""
        version = current_version(session)
        if version <= self.version:  # nothing new, or another caller already applied it
            return
        if not self._catching_up.acquire(blocking=wait or not self.ready):
            return
        try:
            if self.version < 0:
                self._load(session, version)
            elif version > self.version:
                self._apply(session, version)
        finally:
            self._catching_up.release()

    def _load(self, session: Session | Connection, version: int) -> None:
        snapshot = read_snapshot(session)
        # A snapshot ahead of the counter is not from this database's history (e.g. restored from elsewhere).
        if snapshot is not None and snapshot[0] <= version:
            at, index = snapshot
            entries = changed_since(session, at, limit=REBUILD_ABOVE + 1)
            if len(entries) <= REBUILD_ABOVE:
                _upsert(index, entries)
                self._install(index, version)
                self._applied = len(entries)
                return
        # Rows stamped after `version` was read may be in the build too: applying them again later is harmless.
        self._install(load_index(session), version)
        self._save_snapshot(session)

    def _install(self, index: AccountIndex, version: int) -> None:
        with self._rw.exclusive():
            self._index, self.version = index, version
        self._loaded.set()

    def _apply(self, session: Session | Connection, version: int) -> None:
        entries = changed_since(session, self.version, limit=REBUILD_ABOVE + 1)
        if len(entries) > REBUILD_ABOVE:
            log.info("account_directory_rebuild", extra={"behind": version - self.version})
            self._install(load_index(session), version)
            self._save_snapshot(session)
            return
        with self._rw.exclusive():
            _upsert(self._index, entries)
            self.version = version
        self._applied += len(entries)
        self._last_change = time.monotonic()
        if self._applied >= SNAPSHOT_AFTER:
            self._save_snapshot(session, when_quiet=True)

    def _save_snapshot(self, session: Session | Connection, *, when_quiet: bool = False) -> None:
        """Write the index for the next process to start from, in the background: now, or (``when_quiet``) once
        no change has come for a while."""
        if len(self._index) < self.snapshot_from:
            self._applied = 0
            return
        bind = session.get_bind() if isinstance(session, Session) else session.engine
        self._engine = bind if isinstance(bind, Engine) else bind.engine
        if self._snapshot_thread is not None and self._snapshot_thread.is_alive():
            return  # the one under way waits for quiet and writes the index as it is then
        self._snapshot_thread = threading.Thread(
            target=self._snapshot, args=(when_quiet,), name="account-index-snapshot", daemon=True
        )
        self._snapshot_thread.start()

    def _snapshot(self, when_quiet: bool) -> None:
        while when_quiet and not self._closing.is_set():
            wait = self._last_change + self._quiet - time.monotonic()
            # Changing without pause for as many rows as the index holds: write anyway (amortised per row).
            if wait <= 0 or self._applied >= max(REBUILD_ABOVE, len(self._index)):
                break
            self._closing.wait(wait)
        engine = self._engine
        if engine is None:
            return
        try:
            with engine.connect() as conn:
                stored = snapshot_version(conn)
            if stored is not None and stored >= self.version:
                self._applied = 0  # another process wrote it (the index is the same at the same version)
                return
            with self._rw.shared():
                version, data, self._applied = self.version, self._index.dumps(), 0
            write_snapshot(engine, version, data)
        except sa.exc.SQLAlchemyError:
            log.warning("account_index_snapshot_failed")

    def start(self, engine: Engine, retry_seconds: float = 1.0, poll_seconds: float = POLL_SECONDS) -> threading.Thread:
        """Load the directory in the background at start-up (/readyz says ready once it is loaded; retried
        while the database is unreachable or not migrated yet), then keep it caught up until ``close()``."""
        self._closing.clear()  # an app's lifespan may start again after a close (tests do)
        thread = threading.Thread(
            target=self._keep_up, args=(engine, retry_seconds, poll_seconds), name="account-directory", daemon=True
        )
        thread.start()
        return thread

    def _keep_up(self, engine: Engine, retry_seconds: float, poll_seconds: float) -> None:
        while not self.ready and not self._closing.is_set():
            try:
                with engine.connect() as conn:
                    self.catch_up(conn, wait=True)
            except sa.exc.SQLAlchemyError:
                log.warning("account_directory_warm_failed")
                self._closing.wait(retry_seconds)
        while not self._closing.wait(poll_seconds):
            try:
                with engine.connect() as conn:
                    self.catch_up(conn)
            except sa.exc.SQLAlchemyError:
                log.warning("account_directory_poll_failed")

    def close(self) -> None:
        """Stop catching up in the background and write the snapshot due, if any, now (at shutdown, before
        the engine goes)."""
        self._closing.set()
        if self._snapshot_thread is not None:
            self._snapshot_thread.join(timeout=30)

    def refresh(self, engine: Engine) -> None:
        """Catch up now (after this process committed an account change), so its next request sees it."""
        with engine.connect() as conn:
            self.catch_up(conn, wait=True)
