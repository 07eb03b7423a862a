"""The in-process account directory used for attribution, kept in step with the accounts table.

Every process holds an index of all accounts; a shared counter (bumped in the same transaction as any
account change) tells it when to reload, so many API workers agree without a cache server.
"""

from __future__ import annotations

from sqlmodel import Session

from app.models import Counter

VERSION_COUNTER = "accounts_version"


def bump_version(session: Session) -> None:
    counter = session.get(Counter, VERSION_COUNTER, with_for_update=True)
    if counter is None:
        session.add(Counter(name=VERSION_COUNTER, value=1))
    else:
        counter.value += 1
        session.add(counter)


def current_version(session: Session) -> int:
    counter = session.get(Counter, VERSION_COUNTER)
    return counter.value if counter else 0
