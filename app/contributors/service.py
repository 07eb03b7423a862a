"""Contributor lookups."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from app.errors import NotFound
from app.models import Contributor


def resolve_contributor(session: Session, ref: str) -> Contributor:
    """A contributor by id or e-mail (case-insensitive); 404 if unknown."""
    contributor: Contributor | None
    try:
        contributor = session.get(Contributor, uuid.UUID(ref))
    except ValueError:
        contributor = session.exec(select(Contributor).where(Contributor.email == ref.strip().lower())).first()
    if contributor is None:
        raise NotFound("no such contributor")
    return contributor
