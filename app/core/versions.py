"""Shared change counters (table ``counters``) for data every request reads and few requests change.

A transaction that changes such data bumps its counter (``bump``); a process keeps a copy of the data
(``Versioned``) and reloads it when the counter moved. All counters are read with one query per transaction,
however many copies a request consults, so the account directory, the mandate policy and the routing rules
together cost one round trip instead of three.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.core.dbutil import insert_for
from app.core.tables import Counter

T = TypeVar("T")
_COUNTERS = Counter.__table__  # type: ignore[attr-defined]
_MEMO = "counters"


def bump(session: Session, name: str) -> int:
    """Call in the transaction that changes the data ``name`` counts; returns the new value. The counter's row
    lock orders such transactions, so every value up to the committed one is committed."""
    stmt = insert_for(session, _COUNTERS).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": _COUNTERS.c.value + 1}).returning(
        _COUNTERS.c.value
    )
    value = int(session.execute(stmt).scalar_one())
    session.info.setdefault(_MEMO, {})[name] = value
    return value


def read(session: Session | Connection, name: str) -> int:
    """The counter's value as this transaction first saw it (0 if never bumped)."""
    if isinstance(session, Connection):
        return int(session.execute(sa.select(_COUNTERS.c.value).where(_COUNTERS.c.name == name)).scalar() or 0)
    memo = session.info.get(_MEMO)
    if memo is None:
        memo = session.info[_MEMO] = dict(session.execute(sa.select(_COUNTERS.c.name, _COUNTERS.c.value)).all())
    return int(memo.get(name, 0))


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    # The next transaction reads the counters afresh.
    if transaction.parent is None:
        session.info.pop(_MEMO, None)


class Versioned(Generic[T]):
    """This process's copy of what ``load`` reads, reloaded when counter ``name`` moved. ``load`` must return
    something that outlives its session (plain values, or rows expunged from it)."""

    def __init__(self, name: str, load: Callable[[Session], T]) -> None:
        self.name = name
        self._load = load
        self._state: tuple[int, T] | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> T:
        version = read(session, self.name)
        state = self._state
        if state is not None and state[0] == version:
            return state[1]
        value = self._load(session)
        with self._lock:
            self._state = (version, value)
        return value
