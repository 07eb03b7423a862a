"""The baseline for bench/ingest.py: a FastAPI endpoint that only INSERTs the posted signal, nothing else."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.core.db import make_engine

engine = make_engine(os.environ["BARE_DATABASE_URL"])
meta = sa.MetaData()
table = sa.Table(
    "bare_signals",
    meta,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
)
meta.create_all(engine)
app = FastAPI()


@app.post("/v1/signals", status_code=201)
async def insert(request: Request) -> JSONResponse:
    payload: Any = await request.json()
    rows = payload.get("signals", [payload])
    ids = [uuid.uuid4() for _ in rows]

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": i, "payload": json.dumps(r)} for i, r in zip(ids, rows, strict=True)])

    await run_in_threadpool(write)
    return JSONResponse({"ids": [str(i) for i in ids]}, status_code=201)


@app.post("/v1/signals/batch", status_code=200)
async def insert_batch(request: Request) -> JSONResponse:
    return await insert(request)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
