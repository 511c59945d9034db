"""The audit log's table as a SQLModel model, `AuditEvent` (re-exported by `storage.audit`).

Its own module so that appending (storage/audit_chain.py) and verifying, which work on plain
rows, start without SQLModel and the ORM it brings.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel


class AuditEvent(SQLModel, table=True):
    """One audit event. Written only by `append`; the database refuses UPDATE and DELETE."""

    __tablename__ = "audit_event"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ts: str = Field(max_length=32)
    case_ref: str | None = Field(default=None, max_length=32, index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64, index=True)
    details: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


__all__ = ["AuditEvent"]
