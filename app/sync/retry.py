"""The one retry layer (tenacity): transient CRM errors are retried with jittered exponential backoff, never
sooner than the CRM's Retry-After. Waits too long to sleep through are handed back to the outbox instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from threading import Event
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from integrations.base import Retryable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    max_seconds: float = 600.0
    inline_attempts: int = 4
    inline_max_wait: float = 15.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before try ``attempt + 1`` (``attempt`` starts at 1)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def delay(self, exc: BaseException, attempt: int) -> float:
        """How long to wait after ``exc``: the larger of Retry-After and the jittered backoff."""
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(float(retry_after), self.backoff(attempt))


class _WaitRetryAfter(wait_base):
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        return self.policy.delay(exc, retry_state.attempt_number) if exc else 0.0


class WaitTooLong(Exception):
    """Raised in place of a Retryable whose wait exceeds what a worker may sleep holding a claim."""

    def __init__(self, cause: Retryable, wait: float) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.wait = wait


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, stop: Event) -> T:
    """Run ``fn``; retry Retryable errors in process while the wait is short; re-raise the last one otherwise.

    The last error raised is the Retryable itself; a wait beyond ``inline_max_wait`` ends the tries early.
    """

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise InterruptedError("worker stopping")

    def should_retry(exc: BaseException) -> bool:
        return isinstance(exc, Retryable) and not stop.is_set()

    def before_sleep(state: RetryCallState) -> None:
        wait = state.upcoming_sleep
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and wait > policy.inline_max_wait:
            raise WaitTooLong(exc, wait)

    retrying = Retrying(
        stop=stop_after_attempt(policy.inline_attempts),
        wait=_WaitRetryAfter(policy),
        retry=retry_if_exception(should_retry),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
