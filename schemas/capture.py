"""Vendor-neutral records of capture: what a chat or ticket tool's payload becomes, and what the service tells
the tool back. A capture source turns its vendor's payload into a ``SignalCreate`` (the signal draft) and
reads these records; it never sees the service's tables."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

TITLE_LIMIT = 200  # SignalCreate.title's maximum


def shorten_title(text: str, limit: int = TITLE_LIMIT) -> str:
    """A title from free text: its first non-empty line, cut at a word boundary with an ellipsis when longer
    than ``limit``. Callers keep the whole text in the body, so nothing is lost to the limit."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "").strip()
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # cut at a word when one ends in the second half; a single long word is cut as is
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


class AccountChoice(BaseModel):
    """An account offered in a tool's customer picker."""

    id: uuid.UUID
    crm_id: str
    name: str


class CapturedSignal(BaseModel):
    """The answer of the service to one captured signal: enough for the tool's confirmation."""

    signal_id: uuid.UUID
    created: bool = Field(description="false when the tool delivered the same signal before")
    status: Literal["attributed", "needs_review"]
    title: str
    account_name: str | None = None
    attribution_method: str | None = None
    confidence: float | None = None
    opportunity_id: uuid.UUID | None = None
    opportunity_url: str | None = None


class CaptureNotice(BaseModel):
    """Something that became of a captured signal, for the tool to tell its contributor (a DM, a comment)."""

    event: str
    signal_id: uuid.UUID
    title: str
    reply_to: dict[str, Any] = Field(description="what the source stored at capture to find its way back")
    account_name: str | None = None
    opportunity_id: uuid.UUID | None = None
    opportunity_url: str | None = None
    outcome: Literal["open", "won", "lost", "not_pursued"] | None = None
    note: str | None = Field(default=None, description="the seller's outcome note")
