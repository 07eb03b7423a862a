"""The in-process account directory used for attribution, kept in step with the accounts table.

Every process holds an index of all accounts. A shared counter, bumped in the same transaction as any account
change, tells a process to reload: a change made by this process is seen at once, one made by another process
within ``recheck_seconds``.
"""

from __future__ import annotations

import threading
import time

from sqlmodel import Session, select

from app.attribution import AccountEntry, AccountIndex
from app.models import Account, Counter

VERSION_COUNTER = "accounts_version"


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


def entry_of(account: Account) -> AccountEntry:
    return AccountEntry(
        id=str(account.id),
        crm_id=account.crm_id,
        name=account.name,
        legal_name=account.legal_name,
        aliases=tuple(account.aliases),
        domains=tuple(account.domains),
        country=account.country,
    )


class AccountDirectory:
    def __init__(self, recheck_seconds: float = 2.0) -> None:
        self.recheck_seconds = recheck_seconds
        self._index = AccountIndex()
        self._version = -1
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Recheck the version on next use (after this process committed an account change)."""
        self._checked_at = 0.0

    def index(self, session: Session) -> AccountIndex:
        """The current index; reloads when another transaction changed the accounts."""
        now = time.monotonic()
        if now - self._checked_at < self.recheck_seconds:
            return self._index
        version = current_version(session)
        if version != self._version:
            with self._lock:
                if version != self._version:
                    accounts = session.exec(select(Account)).all()
                    self._index = AccountIndex.build(entry_of(a) for a in accounts)
                    self._version = version
        self._checked_at = now
        return self._index
