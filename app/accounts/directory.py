"""The in-process account directory used for attribution, kept in step with the accounts table.

Every process holds an index of all accounts. A shared counter, bumped in the same transaction as any account
change, tells a process to reload: every ingest reads it (a primary-key lookup), so a committed change is seen
by the next signal, in any process (``recheck_seconds`` can trade that for one query less).
"""

from __future__ import annotations

import gc
import logging
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.accounts.models import Account
from app.attribution import AccountEntry, AccountIndex
from app.core.tables import Counter

VERSION_COUNTER = "accounts_version"
log = logging.getLogger("signal_pipeline.accounts")


def bump_version(session: Session) -> None:
    """Call in the transaction that changes accounts."""
    counter = session.get(Counter, VERSION_COUNTER, with_for_update=True)
    if counter is None:
        session.add(Counter(name=VERSION_COUNTER, value=1))
    else:
        counter.value += 1
        session.add(counter)


def current_version(session: Session) -> int:
    counter = session.get(Counter, VERSION_COUNTER)
    return counter.value if counter else 0


def load_index(session: Session) -> AccountIndex:
    """Build the index from the accounts table, reading only the columns it needs (no ORM objects)."""
    rows = session.execute(
        sa.select(
            Account.id,  # type: ignore[call-overload]
            Account.crm_id,
            Account.name,
            Account.legal_name,
            Account.aliases,
            Account.domains,
            Account.country,
        )
    )
    index = AccountIndex.build(
        AccountEntry(
            id=str(id_),
            crm_id=crm_id,
            name=name,
            legal_name=legal_name,
            aliases=tuple(aliases or ()),
            domains=tuple(domains or ()),
            country=country,
        )
        for id_, crm_id, name, legal_name, aliases, domains, country in rows
    )
    # The index is large, long-lived and acyclic: keep it out of the cyclic collector's full passes, which
    # would otherwise stall a request for a noticeable time (reference counting still frees an old index).
    gc.freeze()
    return index


class AccountDirectory:
    def __init__(self, recheck_seconds: float = 0.0) -> None:
        self.recheck_seconds = recheck_seconds
        self._index = AccountIndex()
        self._version = -1
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def index(self, session: Session) -> AccountIndex:
        """The current index; reloads when another transaction changed the accounts.

        While one thread rebuilds, the others go on with the previous index (stale by seconds at most), except
        before the first build, which everyone waits for.
        """
        now = time.monotonic()
        if now - self._checked_at < self.recheck_seconds:
            return self._index
        version = current_version(session)
        if version != self._version and self._lock.acquire(blocking=self._version < 0):
            try:
                if version != self._version:
                    self._index = load_index(session)
                    self._version = version
            finally:
                self._lock.release()
        self._checked_at = now
        return self._index

    def refresh(self, engine: Engine) -> None:
        """Rebuild now (after this process changed accounts), so its next request sees the change."""
        with self._lock, Session(engine) as session:
            self._version = current_version(session)
            self._index = load_index(session)
            self._checked_at = time.monotonic()


def warm(directory: AccountDirectory, engine: Engine) -> threading.Thread:
    """Build the index in the background at start-up, so the first signal does not pay for it."""

    def build() -> None:
        try:
            with Session(engine) as session:
                directory.index(session)
        except sa.exc.SQLAlchemyError:
            log.warning("account_directory_warm_failed")  # e.g. not migrated yet: the first request builds it

    thread = threading.Thread(target=build, name="account-directory", daemon=True)
    thread.start()
    return thread
