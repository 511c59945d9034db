"""case working data and approval round

Revision ID: 0003_case_data
Revises: 0002_retention
Create Date: 2026-11-29 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_case_data"
down_revision: str | None = "0002_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dsr_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("dsr_case", schema=None) as batch_op:
        batch_op.drop_column("round")
        batch_op.drop_column("data")
