"""`dsr store import FILE.jsonl`: one customer a line, every line validated, all or nothing.

Fields: username, email, name, company, phone, street, postal_code, city, country,
newsletter (bool). Errors name the line number and the field, never the value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.customer import rights, validate
from storage.customer.errors import ImportFileError, InvalidChange
from storage.customer.schema import create_schema, customer_metadata

FIELDS = (
    "username",
    "email",
    "name",
    "company",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "newsletter",
)
OPTIONAL = frozenset({"company"})


@dataclass(frozen=True)
class ImportedCustomer:
    """One created account: id and handle."""

    id: int
    handle: str


def parse_line(raw: str) -> dict[str, Any]:
    """Validate and normalise one JSON line.

    Raises:
        InvalidChange: naming the field at fault (or `line` for bad JSON).
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidChange("line", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise InvalidChange("line", "each line must be one JSON object")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise InvalidChange(missing[0], f"missing (required fields: {', '.join(missing)})")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidChange(unknown[0], f"unknown field (allowed: {', '.join(FIELDS)})")
    if not isinstance(data["newsletter"], bool):
        raise InvalidChange("newsletter", "must be true or false")
    for field in FIELDS[:-1]:
        value = data[field]
        if value is None and field in OPTIONAL:
            continue
        if not isinstance(value, str):
            raise InvalidChange(field, "must be a string")
    country = validate.country("country", data["country"])
    return {
        "username": validate.text("username", data["username"]),
        "email": validate.email("email", data["email"]).lower(),
        "name": validate.name("name", data["name"]),
        "company": validate.text("company", data["company"]) if data["company"] else None,
        "phone": validate.phone("phone", data["phone"], country),
        "street": validate.text("street", data["street"]),
        "postal_code": validate.postal_code("postal_code", data["postal_code"], country),
        "city": validate.text("city", data["city"]),
        "country": country,
        "marketing_consent": data["newsletter"],
    }


def parse_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Validate every line; duplicates inside the file are errors too.

    Raises:
        ImportFileError: listing every bad line by number.
    """
    rows: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = parse_line(raw)
        except InvalidChange as exc:
            problems.append((number, f"field {exc.field!r}: {exc.reason}"))
            continue
        for field in ("username", "email"):
            key = (field, row[field].lower())
            if key in seen:
                problems.append((number, f"field {field!r}: same as line {seen[key]}"))
            seen.setdefault(key, number)
        row["_line"] = number
        rows.append(row)
    if problems:
        raise ImportFileError(problems)
    return rows


async def import_customers(
    engine: AsyncEngine, lines: Iterable[str], *, suppression_key: bytes | None = None
) -> list[ImportedCustomer]:
    """Validate the whole file, then insert everything in one transaction.

    An address on the suppression list (it objected to direct marketing, Art. 21(2)) is imported
    without marketing consent and without a newsletter subscription, whatever the file says.

    Args:
        suppression_key: the key of the list's hashes (`Settings.suppression_key_bytes`); needed
            as soon as the list holds an entry.

    Raises:
        ImportFileError: any bad line, a username/e-mail already in the store, or a suppression
            list that cannot be checked without the key.
    """
    rows = parse_lines(lines)
    await create_schema(engine)
    async with engine.connect() as conn:
        listed = await rights.suppression_size(conn)
        if listed and suppression_key is None:
            raise ImportFileError(
                [(0, "the store has a marketing suppression list; set DSR_SECRET_KEY to check it")]
            )
        wanted = [r["email"] for r in rows if r["marketing_consent"]]
        blocked = (
            await rights.suppressed_among(conn, suppression_key, wanted)
            if listed and suppression_key is not None
            else set()
        )
    for r in rows:
        if r["email"] in blocked:
            r["marketing_consent"] = False  # an objection outlives any re-import
    customer = customer_metadata.tables["customer"]
    news = customer_metadata.tables["newsletter_subscription"]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        problems = []
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            emails = {r["email"] for r in part}
            names = {r["username"] for r in part}
            stmt = select(customer.c.email, customer.c.username).where(
                or_(customer.c.email.in_(emails), customer.c.username.in_(names))
            )
            taken = {v for row in await conn.execute(stmt) for v in row if v is not None}
            for r in part:
                for field in ("email", "username"):
                    if r[field] in taken:
                        problems.append(
                            (r["_line"], f"field {field!r}: already used by an existing account")
                        )
        if problems:
            raise ImportFileError(problems)
        first = (
            int(
                (await conn.execute(select(func.coalesce(func.max(customer.c.id), 0)))).scalar_one()
            )
            + 1
        )
        created, customers, subscriptions = [], [], []
        for offset, r in enumerate(rows):
            cid = first + offset
            handle = f"C{cid:08d}"
            r = {k: v for k, v in r.items() if k != "_line"}
            customers.append({**r, "id": cid, "handle": handle, "created_at": now})
            if r["marketing_consent"]:
                subscriptions.append(
                    {
                        "email": r["email"],
                        "name": r["name"],
                        "list_name": "news",
                        "subscribed_at": now,
                    }
                )
            created.append(ImportedCustomer(cid, handle))
        if customers:
            await conn.execute(insert(customer), customers)
        if subscriptions:
            await conn.execute(insert(news), subscriptions)
    return created
