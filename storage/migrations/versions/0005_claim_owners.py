"""claims name the desk instance holding them; instances keep a heartbeat

Revision ID: 0005_claim_owners
Revises: 0004_inbound_pending
Create Date: 2026-12-04 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005_claim_owners"
down_revision: str | None = "0004_inbound_pending"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dsr_case",
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.create_table(
        "desk_instance",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_desk_instance_heartbeat_at", "desk_instance", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_desk_instance_heartbeat_at", table_name="desk_instance")
    op.drop_table("desk_instance")
    with op.batch_alter_table("dsr_case") as batch_op:
        batch_op.drop_column("claimed_by")
