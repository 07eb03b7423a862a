"""Wire contracts of the CRM sync status and dead-letter endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class SyncError(BaseModel):
    job_id: uuid.UUID
    opportunity_id: uuid.UUID
    state: str
    attempts: int
    code: str | None
    message: str | None = Field(description="status, vendor code and request id; never record contents")
    at: datetime


class CRMSyncStatus(BaseModel):
    crm: str
    pending: int = 0
    retrying: int = 0
    dead: int = 0
    done: int = 0
    in_flight: int = Field(default=0, description="claimed by a worker right now")
    waiting_for_account: int = Field(
        default=0,
        description="new opportunities held back because their account has no record in this CRM yet "
        "(ACCOUNT_NOT_IN_CRM); they are sent once it has one, never without a company",
    )
    lag_seconds: float = Field(default=0.0, description="now minus the oldest unsynced change; 0 when caught up")
    oldest_dirty_since: datetime | None = None
    next_attempt_at: datetime | None = Field(default=None, description="earliest retry scheduled")
    rate_limited_until: datetime | None = Field(default=None, description="every worker pauses until then")
    last_errors: list[SyncError] = Field(default_factory=list)


class SyncStatus(BaseModel):
    crms: list[CRMSyncStatus]


class SyncJobRead(BaseModel):
    id: uuid.UUID
    opportunity_id: uuid.UUID
    crm: str
    state: str
    attempts: int
    wanted_version: int
    synced_version: int
    next_attempt_at: datetime
    last_error_code: str | None
    last_error: str | None
