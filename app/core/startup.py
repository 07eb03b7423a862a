"""The cyclic garbage collector paused while a process loads its modules and builds its app.

Start-up allocates a few hundred thousand long-lived objects (modules, classes, pydantic and SQLAlchemy
schemas, routes) and almost no garbage: each collection triggered by those allocations walks the growing heap
for nothing (about a sixth of the start-up CPU). ``pause`` before the imports, ``resume`` once the app is built;
``resume`` also freezes what exists, so later collections in requests never walk the start-up objects again.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Undo ``pause`` (nothing if this process did not pause)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
