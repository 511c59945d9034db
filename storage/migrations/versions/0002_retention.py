"""retention holds and per-case store receipts

Revision ID: 0002_retention
Revises: 0001_initial
Create Date: 2026-11-29 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0002_retention"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = AutoString
_T = UTCDateTime


def upgrade() -> None:
    op.create_table(
        "retention_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_ref", _S(length=40), nullable=True),
        sa.Column("table_name", _S(length=128), nullable=False),
        sa.Column("link_column", _S(length=128), nullable=False),
        sa.Column("link_values", sa.JSON(), nullable=False),
        sa.Column("starts_column", _S(length=128), nullable=False),
        sa.Column("period", _S(length=16), nullable=False),
        sa.Column("legal_basis", _S(length=500), nullable=False),
        sa.Column("kept_until", _T(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("done_at", _T(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_retention_hold_case_ref", "retention_hold", ["case_ref"])
    op.create_index("ix_retention_hold_done_at", "retention_hold", ["done_at"])
    op.create_table(
        "store_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_ref", _S(length=40), nullable=False),
        sa.Column("operation", _S(length=32), nullable=False),
        sa.Column("status", _S(length=16), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("finished_at", _T(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_ref", "operation"),
    )


def downgrade() -> None:
    op.drop_table("store_receipt")
    op.drop_index("ix_retention_hold_done_at", table_name="retention_hold")
    op.drop_index("ix_retention_hold_case_ref", table_name="retention_hold")
    op.drop_table("retention_hold")
