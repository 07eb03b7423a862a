"""Contribution reports under /v1/reports (scope reports:read)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/reports", tags=["reports"])
