"""sealed values: the columns that hold what people wrote become text for sealed envelopes
(`storage.sealing`), and `seal_progress` records how far a `dsr keys rotate` pass got

This revision changes types only (and drops dsr_case.data's server default, '{}' in clear).
Rows written before it are sealed — Message-IDs replaced by their keyed hash — by the rotation
pass, which `dsr db upgrade` runs right after migrating across this revision (`dsr keys rotate`
runs it on demand); until then the desk refuses to read them, naming `dsr keys rotate`.

Revision ID: 0008_sealed_values
Revises: 0007_audit_lockdown
Create Date: 2026-12-04 21:30:00
"""

from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008_sealed_values"
down_revision: str | None = "0007_audit_lockdown"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _retype(
    table: str,
    column: str,
    old: sa.types.TypeEngine[Any],
    new: sa.types.TypeEngine[Any],
    nullable: bool,
    *,
    existing_server_default: str | None = None,
    server_default: str | Literal[False] | None = False,
) -> None:
    """Change a column's type; `server_default` False leaves the default as it is."""
    pg = op.get_bind().dialect.name == "postgresql"
    cast = "text" if isinstance(new, sa.Text) else "json" if isinstance(new, sa.JSON) else None
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(
            column,
            existing_type=old,
            type_=new,
            existing_nullable=nullable,
            postgresql_using=f"{column}::{cast}" if pg and cast else None,
            existing_server_default=existing_server_default,
            server_default=server_default,
        )


def upgrade() -> None:
    _retype("dsr_case", "requester_address", sa.VARCHAR(length=320), sa.Text(), True)
    _retype("dsr_case", "thread_root", sa.VARCHAR(length=998), sa.Text(), True)
    # '{}' in clear would be refused on reading: the desk always writes the (sealed) data
    _retype(
        "dsr_case",
        "data",
        sa.JSON(),
        sa.Text(),
        False,
        existing_server_default="{}",
        server_default=None,
    )
    _retype("outbox", "payload", sa.JSON(), sa.Text(), False)
    op.create_table(
        "seal_progress",
        sa.Column("column_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("target_kid", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("resealed", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("column_name"),
    )


def downgrade() -> None:
    # Sealed values do not fit the old JSON columns: only a store never sealed goes back.
    op.drop_table("seal_progress")
    _retype("outbox", "payload", sa.Text(), sa.JSON(), False)
    _retype("dsr_case", "data", sa.Text(), sa.JSON(), False, server_default="{}")
    _retype("dsr_case", "thread_root", sa.Text(), sa.VARCHAR(length=998), True)
    _retype("dsr_case", "requester_address", sa.Text(), sa.VARCHAR(length=320), True)
