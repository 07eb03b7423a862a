"""Account attribution: which account a signal is about (pure, DB-free)."""

from app.attribution.matcher import (
    METHODS,
    AccountEntry,
    AccountIndex,
    Attribution,
    Candidate,
    CustomerHint,
    attribute,
)

__all__ = ["METHODS", "AccountEntry", "AccountIndex", "Attribution", "Candidate", "CustomerHint", "attribute"]
