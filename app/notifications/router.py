"""Outbound notification subscriptions under /v1/subscriptions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/subscriptions", tags=["notifications"])
