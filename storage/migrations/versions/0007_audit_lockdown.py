"""audit log lockdown: no insert but the next link (SQLite), a separate owner (PostgreSQL);
indexes for the auditors' pages (events by action, open cases by due date and extension)

SQLite: a BEFORE INSERT trigger refuses any row that is not the next link (seq = max + 1,
prev_hash = the last hash, a hash not yet taken), which closes INSERT OR REPLACE, REPLACE and
upserts; UPDATE and DELETE were refused by 0001.

PostgreSQL: `audit_event` is handed to the NOLOGIN role `dsr_audit_owner`; the desk's role keeps
INSERT and SELECT only, so it can no longer disable the triggers, delete, update or truncate.
The desk's role is the migrating user, or the one named by the `dsr_desk_role` option when
`dsr db upgrade --admin-url` migrates as an administrator. Where the migrating user may not
create roles (a managed database), this step is skipped with a warning; README "Audit log"
gives the SQL for the provider's administrator.

Revision ID: 0007_audit_lockdown
Revises: 0006_challenge_purpose
Create Date: 2026-12-04 19:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007_audit_lockdown"
down_revision: str | None = "0006_challenge_purpose"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNER = "dsr_audit_owner"
log = logging.getLogger("alembic.runtime.migration")

_SQLITE_NEXT_LINK = """
CREATE TRIGGER audit_event_next_link_only BEFORE INSERT ON audit_event
WHEN NEW.seq <> COALESCE((SELECT MAX(seq) FROM audit_event), 0) + 1
  OR NEW.prev_hash <> COALESCE((SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1),
                               '0000000000000000000000000000000000000000000000000000000000000000')
  OR EXISTS (SELECT 1 FROM audit_event WHERE hash = NEW.hash)
BEGIN
  SELECT RAISE(ABORT, 'audit_event is append-only: only the next link may be inserted');
END
"""


def _desk_role() -> str | None:
    try:
        return context.config.get_main_option("dsr_desk_role") or None
    except AttributeError:  # run without a config (e.g. an offline script)
        return None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lock_down_postgres() -> None:
    bind = op.get_bind()
    me = str(bind.execute(sa.text("SELECT current_user")).scalar())
    superuser, createrole = bind.execute(
        sa.text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    ).one()
    exists = bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": OWNER})
    if exists.scalar() is None:
        if not (superuser or createrole):
            log.warning(
                "audit lockdown skipped: role %s cannot create the %s role; the desk's role still "
                "owns audit_event (see README, 'Audit log on a managed database')",
                me,
                OWNER,
            )
            return
        op.execute(f"CREATE ROLE {OWNER} NOLOGIN")
    desk = _desk_role() or me
    if not superuser:
        op.execute(f"GRANT {OWNER} TO {_ident(me)}")  # ALTER OWNER needs membership
    # The new owner needs CREATE on the schema (the database owner or an administrator has it).
    op.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {OWNER}")
    op.execute(f"ALTER TABLE audit_event OWNER TO {OWNER}")
    op.execute(f"ALTER FUNCTION audit_event_append_only() OWNER TO {OWNER}")
    op.execute("REVOKE ALL ON audit_event FROM PUBLIC")
    if desk != me:
        # An administrator migrates; the desk gets the case tables and nothing more.
        op.execute(f"GRANT USAGE ON SCHEMA public TO {_ident(desk)}")
        op.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {_ident(desk)}"
        )
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {_ident(desk)}")
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
            f"ON TABLES TO {_ident(desk)}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES "
            f"TO {_ident(desk)}"
        )
        op.execute(f"REVOKE ALL ON audit_event FROM {_ident(desk)}")
    op.execute(f"GRANT SELECT, INSERT ON audit_event TO {_ident(desk)}")
    if not superuser:
        op.execute(f"REVOKE {OWNER} FROM {_ident(me)}")


def upgrade() -> None:
    op.create_index("ix_audit_event_action", "audit_event", ["action"])
    # the auditors' "open and overdue" filter counts from this index alone
    op.create_index("ix_dsr_case_state_due_ext", "dsr_case", ["state", "due_on", "extended_to"])
    if op.get_bind().dialect.name == "postgresql":
        _lock_down_postgres()
    else:
        op.execute(_SQLITE_NEXT_LINK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Needs a superuser (or a member of dsr_audit_owner): the desk no longer owns the table.
        op.execute("ALTER TABLE audit_event OWNER TO CURRENT_USER")
        op.execute("ALTER FUNCTION audit_event_append_only() OWNER TO CURRENT_USER")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_next_link_only")
    op.drop_index("ix_dsr_case_state_due_ext", table_name="dsr_case")
    op.drop_index("ix_audit_event_action", table_name="audit_event")
