"""The reference customer store: the company's own tables, as its privacy policy lists them.

These models live on their own `MetaData` (not `SQLModel.metadata`, which is the case store's and
Alembic's). The executor never imports them: it reads only the data map and reflection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, Text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from storage.customer.rights import rights_metadata

customer_metadata = MetaData()


class CustomerBase(SQLModel, registry=registry(metadata=customer_metadata)):
    """Base of the reference customer-store tables (own registry and metadata)."""


def _ts(index: bool = False, nullable: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


def _fk(target: str) -> Any:
    return Field(sa_column=Column(Integer, ForeignKey(target), nullable=False, index=True))


class Customer(CustomerBase, table=True):
    """A sign-up account: username, password hash, company, name, address, phone, e-mail."""

    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    handle: str | None = Field(default=None, max_length=16, unique=True)
    username: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=320, unique=True)
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    street: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=16)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    marketing_consent: bool = False
    created_at: datetime = _ts()


class NewsletterSubscription(CustomerBase, table=True):
    """A newsletter subscription (name, e-mail); may exist without an account."""

    __tablename__ = "newsletter_subscription"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    name: str | None = Field(default=None, max_length=200)
    list_name: str = Field(max_length=32)
    subscribed_at: datetime = _ts()


class ContactMessage(CustomerBase, table=True):
    """A contact-form message (company, name, e-mail, telephone, text)."""

    __tablename__ = "contact_message"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = _ts()


class TrackingIdentifier(CustomerBase, table=True):
    """A cookie/analytics identifier and the recipient that receives it."""

    __tablename__ = "tracking_identifier"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = _fk("customer.id")
    recipient: str = Field(max_length=64)
    cookie_name: str = Field(max_length=64)
    identifier: str = Field(max_length=128)
    first_seen: datetime = _ts()


class ActivityLog(CustomerBase, table=True):
    """Server and account activity: IP address, browser, action, time."""

    __tablename__ = "activity_log"

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    customer_id: int = _fk("customer.id")
    occurred_at: datetime = _ts()
    ip_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)
    action: str = Field(max_length=32)


class Invoice(CustomerBase, table=True):
    """An invoice; kept for the period tax law requires."""

    __tablename__ = "invoice"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = _fk("customer.id")
    number: str = Field(max_length=32, unique=True)
    billing_name: str | None = Field(default=None, max_length=200)
    billing_address: str | None = Field(default=None, max_length=400)
    amount_cents: int
    currency: str = Field(max_length=3)
    issued_at: datetime = _ts()


class DomainRegistration(CustomerBase, table=True):
    """Domain-registration data processed for a reseller (we are the processor)."""

    __tablename__ = "domain_registration"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = _fk("customer.id")
    domain: str = Field(max_length=253)
    registrant_name: str | None = Field(default=None, max_length=200)
    registrant_email: str | None = Field(default=None, max_length=320)
    registrant_phone: str | None = Field(default=None, max_length=32)
    reseller: str = Field(max_length=100)
    registered_at: datetime = _ts()


async def create_schema(engine: AsyncEngine) -> None:
    """Create the reference tables that are missing (`dsr store init/seed/import`), with the
    suppression list and restriction marks every store has (`storage.customer.rights`)."""
    async with engine.begin() as conn:
        await conn.run_sync(customer_metadata.create_all)
        await conn.run_sync(rights_metadata.create_all)


__all__ = [
    "ActivityLog",
    "ContactMessage",
    "Customer",
    "CustomerBase",
    "DomainRegistration",
    "Invoice",
    "NewsletterSubscription",
    "TrackingIdentifier",
    "create_schema",
    "customer_metadata",
]
