"""recipient tasks: one per recipient told of an erasure, correction or restriction (Art. 19),
and per reseller a processor-data request is forwarded to

Revision ID: 0010_recipient_tasks
Revises: 0007_audit_lockdown
Create Date: 2026-12-04 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010_recipient_tasks"
down_revision: str | None = "0008_sealed_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "recipient_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recipient_key", text(length=64), nullable=False),
        sa.Column("recipient_name", text(length=255), nullable=False),
        sa.Column("action", text(length=16), nullable=False),
        sa.Column("channel", text(length=16), nullable=False),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("message_id", text(length=998), nullable=True),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", text(length=16), nullable=True),
        sa.Column("actor", text(length=128), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["dsr_case.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "recipient_key", "action", name="uq_recipient_task"),
    )
    op.create_index("ix_recipient_task_case_id", "recipient_task", ["case_id"])
    op.create_index("ix_recipient_task_outbox_id", "recipient_task", ["outbox_id"])
    op.create_index("ix_recipient_task_message_id", "recipient_task", ["message_id"])
    op.create_index("ix_recipient_task_status_due", "recipient_task", ["status", "due_at"])


def downgrade() -> None:
    for name in ("status_due", "message_id", "outbox_id", "case_id"):
        op.drop_index(f"ix_recipient_task_{name}", table_name="recipient_task")
    op.drop_table("recipient_task")
