"""Account directory rules: lookups, import (upsert by CRM id), search. Never commits."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, or_, select

from app.accounts.directory import bump_version
from app.accounts.models import Account
from app.core.errors import NotFound, field_errors, invalid
from app.core.timeutil import utcnow
from schemas.accounts import AccountIn, ImportResult, ImportRowResult
from schemas.limits import CSV_ENCODING, MAX_CSV_FIELD_CHARS

LIST_COLUMNS = ("aliases", "domains")
FIELDS = ("crm", "name", "legal_name", "aliases", "domains", "country", "owner", "owner_crm_id", "segment")


def resolve_account(session: Session, ref: str) -> Account:
    """An account by our id or its CRM id; 404 if unknown."""
    account: Account | None = None
    with contextlib.suppress(ValueError):
        account = session.get(Account, uuid.UUID(ref))
    if account is None:
        account = session.exec(select(Account).where(Account.crm_id == ref)).first()
    if account is None:
        raise NotFound("no such account")
    return account


def rows_from_csv(data: bytes, field: str) -> list[dict[str, Any]]:
    """CSV with a header row; `aliases` and `domains` hold several values separated by `;` or `|`.

    ``field`` names the upload in errors (``file`` or ``body``); the limits are those of ``schemas.limits``.
    """
    try:
        text = data.decode(CSV_ENCODING)
    except UnicodeDecodeError:
        raise invalid(field, "CSV must be UTF-8 encoded", "encoding") from None
    try:
        return _csv_rows(csv.DictReader(io.StringIO(text)), field)
    except csv.Error as exc:  # e.g. a field over the csv module's own limit (131,072 characters)
        raise invalid(field, f"not readable as CSV: {exc}", "csv_invalid") from None


def _csv_rows(reader: csv.DictReader[str], field: str) -> list[dict[str, Any]]:
    if not reader.fieldnames or "crm_id" not in reader.fieldnames or "name" not in reader.fieldnames:
        raise invalid(field, "CSV needs a header row with at least crm_id and name", "csv_header")
    rows: list[dict[str, Any]] = []
    for raw in reader:
        if any(len(v) > MAX_CSV_FIELD_CHARS for v in raw.values() if isinstance(v, str)):
            line = reader.line_num
            raise invalid(field, f"line {line} has a field over {MAX_CSV_FIELD_CHARS} characters", "csv_field_too_long")
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None or value is None or value.strip() == "":
                continue
            key = key.strip()
            if key in LIST_COLUMNS:
                row[key] = [v.strip() for v in value.replace("|", ";").split(";") if v.strip()]
            else:
                row[key] = value.strip()
        rows.append(row)
    return rows


def import_accounts(session: Session, rows: list[dict[str, Any]]) -> ImportResult:
    """Upsert by (crm, crm_id); a row-level error rejects that row only."""
    results: list[ImportRowResult] = []
    valid: list[tuple[int, AccountIn]] = []
    for i, row in enumerate(rows):
        try:
            valid.append((i, AccountIn.model_validate(row)))
        except ValidationError as exc:
            results.append(ImportRowResult(row=i, status="rejected", errors=field_errors(exc.errors())))
    keys = {(a.crm, a.crm_id) for _, a in valid}
    existing: dict[tuple[str, str], Account] = {}
    crm_ids = [k[1] for k in keys]
    for start in range(0, len(crm_ids), 1000):
        chunk = crm_ids[start : start + 1000]
        for acc in session.exec(select(Account).where(col(Account.crm_id).in_(chunk))):
            existing[(acc.crm, acc.crm_id)] = acc
    version: int | None = None

    def stamp() -> int:  # the directory's new version, taken once and only when something changes
        nonlocal version
        if version is None:
            version = bump_version(session)
        return version

    for i, data in valid:
        values = data.model_dump()
        found = existing.get((data.crm, data.crm_id))
        if found is None:
            created = Account(crm_id=data.crm_id, version=stamp(), **{k: values[k] for k in FIELDS})
            session.add(created)
            existing[(data.crm, data.crm_id)] = created
            results.append(ImportRowResult(row=i, status="created", id=created.id))
            continue
        diff = {k: values[k] for k in FIELDS if getattr(found, k) != values[k]}
        if diff:
            for k, v in diff.items():
                setattr(found, k, v)
            found.updated_at = utcnow()
            found.version = stamp()
            session.add(found)
        results.append(ImportRowResult(row=i, status="updated" if diff else "unchanged", id=found.id))
    session.flush()
    results.sort(key=lambda r: r.row)
    return ImportResult(
        created=sum(r.status == "created" for r in results),
        updated=sum(r.status == "updated" for r in results),
        unchanged=sum(r.status == "unchanged" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )


def search(session: Session, q: str | None, before: uuid.UUID | None, limit: int) -> list[Account]:
    stmt = select(Account)
    if q:
        pattern = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            or_(
                col(Account.name).ilike(pattern),
                col(Account.legal_name).ilike(pattern),
                sa.cast(Account.aliases, sa.String).ilike(pattern),
                sa.cast(Account.domains, sa.String).ilike(pattern),
                col(Account.crm_id) == q.strip(),
            )
        )
    if before:
        stmt = stmt.where(col(Account.id) < before)
    return list(session.exec(stmt.order_by(col(Account.id).desc()).limit(limit)))
