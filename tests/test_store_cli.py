# ruff: noqa: F811  (fixtures imported by name)
"""`dsr store …` end to end through typer: output, audit events, and errors that change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.store import register
from bot.settings import load_settings
from tests.test_store_support import customer_engine, customer_url  # noqa: F401


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _load(ctx: typer.Context) -> None:
        ctx.obj = load_settings()

    register(app)
    return app


APP = make_app()


def sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "")


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    if "asyncpg" in url:
        import asyncio

        import asyncpg

        async def go() -> list[tuple[object, ...]]:
            conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
            try:
                return [tuple(r) for r in await conn.fetch(sql)]
            finally:
                await conn.close()

        return asyncio.run(go())
    engine = create_sync_engine(sync_url(url))
    with engine.begin() as conn:  # committed, so an UPDATE holds too
        result = conn.execute(text(sql))
        out = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return out


@pytest.fixture
def env(
    customer_engine: object, customer_url: str, case_store_url: str
) -> Iterator[dict[str, str]]:
    yield {
        "DSR_CUSTOMER_DATABASE_URL": customer_url,
        "DSR_DATABASE_URL": case_store_url,
        "DSR_DATAMAP": "storage/datamap.yaml",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(APP, ["store", *args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def audit_actions(env: dict[str, str]) -> list[tuple[str, str, str]]:
    rows = query(
        env["DSR_DATABASE_URL"], "SELECT action, actor, details FROM audit_event ORDER BY seq"
    )
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_find_prints_counts_and_is_audited(env: dict[str, str]) -> None:
    code, out, _ = run(env, "find", "alice@example.com", "--actor", "jane")
    assert code == 0
    assert "account: C00001001" in out and "activity_log: 4 row(s)" in out
    assert "alice@example.com" not in out and "Alice" not in out
    [(action, actor, details)] = audit_actions(env)
    assert (action, actor) == ("store_find", "cli:jane")
    assert "subj_" in details and "alice" not in details.lower()


def test_find_with_casefold_shows_the_spelling_on_file(env: dict[str, str], tmp_path: Path) -> None:
    query(
        env["DSR_CUSTOMER_DATABASE_URL"],
        "UPDATE customer SET email = 'Alice@Example.COM' WHERE id = 1001",
    )
    code, out, _ = run(env, "find", "alice@example.com")  # exact: the account is not found
    assert "account:" not in out and "customer: 0 row(s)" in out
    casefold = tmp_path / "map.yaml"
    casefold.write_text(Path("storage/datamap.yaml").read_text() + "\nemail_match: casefold\n")
    code, out, _ = run({**env, "DSR_DATAMAP": str(casefold)}, "find", "alice@example.com")
    assert code == 0 and "account: C00001001" in out
    assert "e-mail on file spelled Alice@Example.COM (matched ignoring case)" in out
    code, out, _ = run({**env, "DSR_DATAMAP": str(casefold)}, "find", "Alice@Example.COM")
    assert code == 0 and "spelled" not in out and "Alice@Example.COM" not in out


def test_find_unknown_and_several(env: dict[str, str]) -> None:
    code, _, err = run(env, "find", "nobody@example.com")
    assert code == 2 and "no data is held" in err
    code, out, _ = run(env, "find", "C00001001")
    assert code == 0 and "2 accounts" in out and "C00001002" in out
    code, _, err = run(env, "erase", "C00001001", "--apply")
    assert code == 2 and "2 accounts" in err


def test_erase_preview_changes_nothing_then_apply(env: dict[str, str]) -> None:
    url = env["DSR_CUSTOMER_DATABASE_URL"]
    code, out, _ = run(env, "erase", "alice.known")
    assert code == 0 and "preview" in out and "retained until" in out
    assert query(url, "SELECT email FROM customer WHERE id=1001") == [("alice@example.com",)]
    code, out, _ = run(env, "erase", "alice.known", "--apply", "--case", "DSR-3")
    assert code == 0 and "applied" in out
    assert query(url, "SELECT email FROM customer WHERE id=1001") == [(None,)]
    actions = [a for a, _, _ in audit_actions(env)]
    assert actions == ["store_erase_previewed", "store_erased"]
    holds = query(env["DSR_DATABASE_URL"], "SELECT count(*) FROM retention_hold")
    assert holds == [(2,)]


def test_change_invalid_then_valid(env: dict[str, str]) -> None:
    url = env["DSR_CUSTOMER_DATABASE_URL"]
    code, _, err = run(env, "change", "alice@example.com", "phone=12345", "--apply")
    assert code == 2 and "'phone'" in err and "nothing was changed" in err
    code, _, err = run(env, "change", "alice@example.com", "shoe=44", "--apply")
    assert code == 2 and "'shoe'" in err
    assert query(url, "SELECT phone FROM customer WHERE id=1001") == [("+4930901820",)]
    code, out, _ = run(env, "change", "alice@example.com", "phone=+44 20 7946 0958")
    assert code == 0 and "+442079460958" in out and "preview" in out
    code, out, _ = run(env, "change", "alice@example.com", "phone=+44 20 7946 0958", "--apply")
    assert code == 0
    assert query(url, "SELECT phone FROM customer WHERE id=1001") == [("+442079460958",)]
    details = next(d for a, _, d in audit_actions(env) if a == "store_changed")
    assert "vh_" in details and "7946" not in details


def test_export_writes_the_package(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(env, "export", "alice@example.com", "--out", str(tmp_path))
    assert code == 0 and "12 rows" in out
    assert json.loads((tmp_path / "personal-data.json").read_text())["tables"]["invoice"]["rows"]


def test_refuses_without_a_valid_data_map(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "map.yaml"
    broken.write_text(
        Path("storage/datamap.yaml")
        .read_text()
        .replace("category: contact", "category: kontakt", 1)
    )
    for datamap in (str(tmp_path / "missing.yaml"), str(broken)):
        code, _, err = run({**env, "DSR_DATAMAP": datamap}, "erase", "alice.known", "--apply")
        assert code == 2 and "data map" in err
    code, _, err = run({**env, "DSR_DATAMAP": str(broken)}, "find", "alice.known")
    assert "'customer'" in err and "'email'" in err
    assert query(env["DSR_CUSTOMER_DATABASE_URL"], "SELECT email FROM customer WHERE id=1001") == [
        ("alice@example.com",)
    ]
    assert audit_actions(env) == []


def test_refuses_with_an_unmigrated_case_store(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = run(
        {**env, "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"},
        "find",
        "alice.known",
    )
    assert code == 2 and "dsr db upgrade" in err


def test_unsubscribe_and_sweep(env: dict[str, str]) -> None:
    code, out, _ = run(env, "unsubscribe", "alice@example.com")
    assert code == 0 and "newsletter_subscription: 2" in out
    code, out, _ = run(env, "sweep")
    assert code == 0 and "swept" in out


def test_seed_and_import_commands(tmp_path: Path) -> None:
    env = {
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
    }
    code, out, _ = run(env, "seed", "--customers", "25", "--seed", "4")
    assert code == 0 and "seeded 25 customers (ids 1..25)" in out
    good = {
        "username": "imp",
        "email": "imp@example.org",
        "name": "Imke Port",
        "company": "",
        "phone": "+31 20 555 0101",
        "street": "Damrak 1",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
        "newsletter": False,
    }
    file = tmp_path / "in.jsonl"
    file.write_text(json.dumps(good) + "\n" + json.dumps({**good, "username": "x", "phone": "1"}))
    code, _, err = run(env, "import", str(file))
    assert code == 2 and "line 2: field 'phone'" in err
    file.write_text(json.dumps(good) + "\n")
    code, out, _ = run(env, "import", str(file))
    assert code == 0 and out.split() == ["26", "C00000026"]
