"""Realistic synthetic customers for the reference store (`dsr store seed`), fast enough for 1M.

Faker is asked only for small pools per locale up front; rows are then drawn from the pools with
one seeded `random.Random`, and written with bulk inserts in chunks.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.customer.schema import create_schema, customer_metadata

LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "nl_NL": "NL",
    "cs_CZ": "CZ",
    "es_ES": "ES",
    "it_IT": "IT",
    "pl_PL": "PL",
}
POOL = 400
CHUNK = 20_000
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")
RECIPIENTS = (
    ("Google Analytics", "_ga"),
    ("Yandex Metrica", "_ym_uid"),
    ("Usersnap", "usersnap_id"),
    ("Facebook Pixel", "_fbp"),
)
ACTIONS = ("login", "logout", "view_invoice", "update_profile", "open_ticket", "dns_change")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
RESELLERS = ("DomainPartner AG", "WebReseller s.r.o.", "NetShop SARL")
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only (for usernames and e-mail local parts)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


@dataclass(frozen=True)
class Pools:
    """Per-locale pools of names, companies, streets, cities, postal codes and phones."""

    first: dict[str, list[str]]
    last: dict[str, list[str]]
    company: dict[str, list[str]]
    street: dict[str, list[str]]
    city: dict[str, list[str]]
    postal: dict[str, list[str]]
    phone: dict[str, list[str]]


def make_pools(seed: int) -> Pools:
    """Ask Faker for POOL values of each kind per locale (a second or two in all)."""
    pools: dict[str, dict[str, list[str]]] = {k: {} for k in Pools.__dataclass_fields__}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        pools["first"][locale] = [fake.first_name() for _ in range(POOL)]
        pools["last"][locale] = [fake.last_name() for _ in range(POOL)]
        pools["company"][locale] = [fake.company() for _ in range(POOL // 4)]
        pools["street"][locale] = [fake.street_address() for _ in range(POOL)]
        pools["city"][locale] = [fake.city() for _ in range(POOL)]
        pools["postal"][locale] = [fake.postcode() for _ in range(POOL)]
        pools["phone"][locale] = [fake.phone_number() for _ in range(POOL)]
    return Pools(**pools)


def _activity_count(rng: random.Random) -> int:
    # Heavy tail: most customers have a handful of events, a few have thousands.
    return min(int(rng.paretovariate(1.15)) - 1, 20_000)


@dataclass(frozen=True, slots=True)
class _Person:
    """One synthetic customer's own facts, from which all of their rows are drawn."""

    cid: int
    country: str
    first: str
    last: str
    username: str
    email: str
    created: datetime
    company: str | None
    street: str
    city: str
    postal: str
    phone: str
    newsletter: bool

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def span(self) -> int:
        """Seconds from sign-up to `NOW` (at least one): the window for events and invoices."""
        return max(int((NOW - self.created).total_seconds()), 1)


Rows = Iterator[tuple[str, dict[str, Any]]]


def generate(rng: random.Random, pools: Pools, first_id: int, count: int) -> Rows:
    """Yield (table name, row) for `count` customers starting at id `first_id`.

    Every value comes from `rng` in a fixed order, so a seed always gives the same rows.
    """
    locales = list(LOCALES)
    for cid in range(first_id, first_id + count):
        person = _person(rng, pools, cid, rng.choice(locales))
        yield "customer", _customer(rng, person)
        if person.newsletter:
            yield "newsletter_subscription", _subscription(person)
        yield from _contact_message(rng, person)
        yield from _tracking_identifiers(rng, person)
        yield from _activity(rng, person)
        yield from _invoices(rng, person)
        yield from _domain(rng, person)


def _person(rng: random.Random, pools: Pools, cid: int, loc: str) -> _Person:
    """Draw a customer's name, addresses and sign-up time from the locale's pools."""
    first, last = rng.choice(pools.first[loc]), rng.choice(pools.last[loc])
    username = f"{ascii_slug(first)[:12]}.{ascii_slug(last)[:12]}{cid}"
    email = f"{username}@{rng.choice(MAIL_DOMAINS)}"
    created = NOW - timedelta(days=rng.randint(1, 4000), seconds=rng.randint(0, 86_399))
    company = rng.choice(pools.company[loc]) if rng.random() < 0.35 else None
    street, city = rng.choice(pools.street[loc]), rng.choice(pools.city[loc])
    postal, phone = rng.choice(pools.postal[loc]), rng.choice(pools.phone[loc])
    newsletter = rng.random() < 0.3
    return _Person(
        cid=cid,
        country=LOCALES[loc],
        first=first,
        last=last,
        username=username,
        email=email,
        created=created,
        company=company,
        street=street,
        city=city,
        postal=postal,
        phone=phone,
        newsletter=newsletter,
    )


def _customer(rng: random.Random, p: _Person) -> dict[str, Any]:
    return {
        "id": p.cid,
        "handle": f"C{p.cid:08d}",
        "username": p.username,
        "password_hash": f"$argon2id$v=19$m=65536,t=3,p=4${rng.getrandbits(128):032x}",
        "email": p.email,
        "name": p.name,
        "company": p.company,
        "phone": p.phone,
        "street": p.street,
        "postal_code": p.postal,
        "city": p.city,
        "country": p.country,
        "marketing_consent": p.newsletter,
        "created_at": p.created,
    }


def _subscription(p: _Person) -> dict[str, Any]:
    return {"email": p.email, "name": p.name, "list_name": "news", "subscribed_at": p.created}


def _contact_message(rng: random.Random, p: _Person) -> Rows:
    """One customer in ten wrote to support once."""
    if rng.random() < 0.1:
        yield (
            "contact_message",
            {
                "email": p.email,
                "name": p.name,
                "company": p.company,
                "phone": p.phone,
                "subject": rng.choice(("Invoice question", "DNS help", "Cancel contract")),
                "body": f"Hello, I have a question about my contract. Regards, {p.first}",
                "received_at": p.created + timedelta(days=rng.randint(0, 900)),
            },
        )


def _tracking_identifiers(rng: random.Random, p: _Person) -> Rows:
    """Up to three analytics cookies, each shared with its recipient."""
    for recipient, cookie in rng.sample(RECIPIENTS, rng.randint(0, 3)):
        yield (
            "tracking_identifier",
            {
                "customer_id": p.cid,
                "recipient": recipient,
                "cookie_name": cookie,
                "identifier": f"{rng.getrandbits(64):016x}.{rng.randint(10**9, 2 * 10**9)}",
                "first_seen": p.created,
            },
        )


def _activity(rng: random.Random, p: _Person) -> Rows:
    """The activity log, heavy-tailed in length (see `_activity_count`)."""
    span = p.span
    for _ in range(_activity_count(rng)):
        yield (
            "activity_log",
            {
                "customer_id": p.cid,
                "occurred_at": p.created + timedelta(seconds=rng.randint(0, span)),
                "ip_address": f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "user_agent": rng.choice(AGENTS),
                "action": rng.choice(ACTIONS),
            },
        )


def _invoices(rng: random.Random, p: _Person) -> Rows:
    """Up to five invoices, billed to the company when there is one."""
    for n in range(rng.randint(0, 5)):
        yield (
            "invoice",
            {
                "customer_id": p.cid,
                "number": f"INV-{p.cid}-{n + 1}",
                "billing_name": p.company or p.name,
                "billing_address": f"{p.street}, {p.postal} {p.city}",
                "amount_cents": rng.randint(199, 49_900),
                "currency": "EUR",
                "issued_at": p.created + timedelta(seconds=rng.randint(0, p.span)),
            },
        )


def _domain(rng: random.Random, p: _Person) -> Rows:
    """One customer in twenty registered a domain, some through a reseller."""
    if rng.random() < 0.05:
        yield (
            "domain_registration",
            {
                "customer_id": p.cid,
                "domain": f"{ascii_slug(p.last)}{p.cid}.example",
                "registrant_name": p.name,
                "registrant_email": p.email,
                "registrant_phone": p.phone,
                "reseller": rng.choice(RESELLERS),
                "registered_at": p.created,
            },
        )


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's own SQLite DATETIME storage format, so reads and comparisons agree.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def _flush(conn: AsyncConnection, buffers: dict[str, list[dict[str, Any]]]) -> None:
    sqlite = conn.dialect.name == "sqlite"
    for name in customer_metadata.tables:  # parents first (metadata order is sorted by FKs)
        rows = buffers.get(name)
        if not rows:
            continue
        if sqlite:
            # The driver's executemany with tuples is ~5x faster than bound dicts for 1M rows.
            cols = list(rows[0])
            marks = ", ".join("?" * len(cols))
            # Table and column names come from our own metadata, never from input.
            sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks})"  # noqa: S608
            params = [tuple(_sqlite_value(r[c]) for c in cols) for r in rows]
            await conn.exec_driver_sql(sql, params)
        else:
            await conn.execute(insert(customer_metadata.tables[name]), rows)
        rows.clear()


async def seed(
    engine: AsyncEngine,
    customers: int,
    *,
    seed_value: int = 0,
    progress: Callable[[int], None] | None = None,
) -> range:
    """Create the reference schema if needed and add `customers` synthetic customers.

    Returns:
        The customer ids created.
    """
    await create_schema(engine)
    rng = random.Random(seed_value)
    pools = make_pools(seed_value)
    table: Table = customer_metadata.tables["customer"]
    async with engine.begin() as conn:
        first_id = (
            int((await conn.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one())
            + 1
        )
        buffers: dict[str, list[dict[str, Any]]] = {}
        pending = made = 0
        for name, row in generate(rng, pools, first_id, customers):
            buffers.setdefault(name, []).append(row)
            pending += 1
            made += name == "customer"
            if pending >= CHUNK:
                await _flush(conn, buffers)
                pending = 0
                if progress:
                    progress(made)  # customers written so far
        await _flush(conn, buffers)
    return range(first_id, first_id + customers)
