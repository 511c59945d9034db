"""Migrations build exactly the schema the models describe, and go down and up again."""

from __future__ import annotations

from alembic import command

from storage.migrate import alembic_config, head_revision, upgrade


def test_models_match_migrations(case_store_url: str) -> None:
    command.check(alembic_config(case_store_url))  # raises when autogenerate finds a difference


def test_downgrade_to_base_and_up_again(case_store_url: str) -> None:
    cfg = alembic_config(case_store_url)
    command.downgrade(cfg, "base")
    upgrade(case_store_url)
    command.check(cfg)
    assert head_revision() == "0010_recipient_tasks"
