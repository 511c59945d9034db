"""inbound messages are recorded first and parsed later: index their kind

Revision ID: 0004_inbound_pending
Revises: 0003_case_data
Create Date: 2026-11-30 01:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_inbound_pending"
down_revision: str | None = "0003_case_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_inbound_message_kind", "inbound_message", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_inbound_message_kind", table_name="inbound_message")
