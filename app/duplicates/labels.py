"""Every human matching decision is stored as a label (accept, reject, merge, detach, attribution), with the
model's inputs when the pair had been scored, so that calibration learns from the deployment's own decisions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from app.duplicates.models import MatchLabel

ACCEPT, REJECT, MERGE, DETACH, ATTRIBUTION = "accept", "reject", "merge", "detach", "attribution"


def record(
    session: Session,
    kind: str,
    same: bool,
    actor: str,
    *,
    signal_id: uuid.UUID | None = None,
    opportunity_id: uuid.UUID | None = None,
    other_opportunity_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    score: float | None = None,
    features: Sequence[float] = (),
    **detail: Any,
) -> MatchLabel:
    label = MatchLabel(
        kind=kind,
        same=same,
        signal_id=signal_id,
        opportunity_id=opportunity_id,
        other_opportunity_id=other_opportunity_id,
        account_id=account_id,
        score=score,
        features=list(features),
        detail=detail,
        actor=actor,
    )
    session.add(label)
    return label
