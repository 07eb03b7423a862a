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
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from schemas.accounts import AccountIn, ImportResult, ImportRowResult
from schemas.limits import CSV_ENCODING, MAX_CSV_FIELD_CHARS

LIST_COLUMNS = ("aliases", "domains")
FIELDS = ("crm", "name", "legal_name", "aliases", "domains", "country", "owner", "owner_crm_id", "segment")
_ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
_IMPORT_COLUMNS = tuple(_ACCOUNTS.c[name] for name in ("id", "crm_id", *FIELDS))


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
    """Upsert by (crm, crm_id); a row-level error rejects that row only.

    Set-based: one read of the rows already there (the columns compared, no ORM objects), one multi-row INSERT
    of the new accounts and one executemany UPDATE of the changed ones, so a chunk costs what it holds, whatever
    the size of the directory.
    """
    results: list[ImportRowResult] = []
    valid: list[tuple[int, AccountIn]] = []
    for i, row in enumerate(rows):
        try:
            valid.append((i, AccountIn.model_validate(row)))
        except ValidationError as exc:
            results.append(ImportRowResult(row=i, status="rejected", errors=field_errors(exc.errors())))
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    crm_ids = sorted({a.crm_id for _, a in valid})
    for start in range(0, len(crm_ids), 1000):
        stmt = sa.select(*_IMPORT_COLUMNS).where(_ACCOUNTS.c.crm_id.in_(crm_ids[start : start + 1000]))
        for stored in session.execute(stmt).mappings():
            existing[(stored["crm"], stored["crm_id"])] = dict(stored)
    created: list[dict[str, Any]] = []
    changed: dict[uuid.UUID, dict[str, Any]] = {}
    now = utcnow()
    for i, data in valid:
        values = data.model_dump()
        key = (data.crm, data.crm_id)
        found = existing.get(key)
        if found is None:
            # A row repeated later in the same import updates this dict before it is inserted.
            found = existing[key] = {"id": uuid7(), "crm_id": data.crm_id, **{k: values[k] for k in FIELDS}}
            found.update(created_at=now, updated_at=now)
            created.append(found)
            results.append(ImportRowResult(row=i, status="created", id=found["id"]))
            continue
        diff = {k: values[k] for k in FIELDS if found[k] != values[k]}
        if diff:
            found.update(diff, updated_at=now)
            if "created_at" not in found:  # not one created by this import
                changed[found["id"]] = found
        results.append(ImportRowResult(row=i, status="updated" if diff else "unchanged", id=found["id"]))
    if created or changed:
        version = bump_version(session)  # the directory's new version, stamped on every row this import changes
        for values in (*created, *changed.values()):
            values["version"] = version
        # Core statements: the ORM's bulk forms split the rows into groups by which columns are None.
        if created:
            session.execute(_ACCOUNTS.insert(), created)
        if changed:
            keyed = [{**values, "_id": values["id"]} for values in changed.values()]
            columns: dict[str, Any] = {name: sa.bindparam(name) for name in (*FIELDS, "updated_at", "version")}
            session.execute(_ACCOUNTS.update().where(_ACCOUNTS.c.id == sa.bindparam("_id")).values(columns), keyed)
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
