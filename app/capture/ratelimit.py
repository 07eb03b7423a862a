"""A per-key fixed-window request limit for the capture routes.

A small hook until the service-wide limiter (issue 11) lands: the count is per process, so N API processes
allow up to N times the limit. Swap ``allow`` for the shared limiter when it is on main.
"""

from __future__ import annotations

import threading
import time


class WindowLimiter:
    def __init__(self, window_seconds: float = 60.0) -> None:
        self.window = window_seconds
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, now: float | None = None) -> float | None:
        """None when the request may go on; otherwise the seconds until the window resets (for Retry-After)."""
        moment = time.time() if now is None else now
        window = int(moment // self.window)
        with self._lock:
            current, count = self._counts.get(key, (window, 0))
            if current != window:
                count = 0
            if count >= limit:
                return (window + 1) * self.window - moment
            self._counts[key] = (window, count + 1)
        return None
