"""challenges carry their purpose (consent of the address on file, ownership of a new address)
and a count of stray attempts (wrong codes in mails that may be forged), and are found by the
keyed form of the address they went to

Challenges issued before this revision hold a subject pseudonym, not an address key, so no
reply matches them any more: they expire, and the customer can ask again.

Revision ID: 0006_challenge_purpose
Revises: 0005_claim_owners
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_challenge_purpose"
down_revision: str | None = "0005_claim_owners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verification_challenge", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="consent",
            )
        )
        batch_op.add_column(
            sa.Column("stray_attempts", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index(
        "ix_verification_challenge_sent_to_pseudonym",
        "verification_challenge",
        ["sent_to_pseudonym"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_verification_challenge_sent_to_pseudonym", table_name="verification_challenge"
    )
    with op.batch_alter_table("verification_challenge", schema=None) as batch_op:
        batch_op.drop_column("stray_attempts")
        batch_op.drop_column("purpose")
