"""cases remember when their personal content was purged (retention of case records, or the
subject's own erasure request), and keep their requester's address also as a keyed hash, to find
a person's own requests (filled for earlier rows by `dsr db upgrade`)

Revision ID: 0009_case_purge
Revises: 0007_audit_lockdown
Create Date: 2026-12-04 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009_case_purge"
down_revision: str | None = "0008_sealed_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dsr_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("requester_hash", sa.String(length=80), nullable=True))
    op.create_index("ix_dsr_case_purged_at", "dsr_case", ["purged_at"])
    op.create_index("ix_dsr_case_requester_hash", "dsr_case", ["requester_hash"])


def downgrade() -> None:
    op.drop_index("ix_dsr_case_requester_hash", table_name="dsr_case")
    op.drop_index("ix_dsr_case_purged_at", table_name="dsr_case")
    with op.batch_alter_table("dsr_case", schema=None) as batch_op:
        batch_op.drop_column("requester_hash")
        batch_op.drop_column("purged_at")
