# ruff: noqa: F811  (fixtures imported by name)
"""The operator's `dsr`: commands import only what they use, start fast, say their version, keep
the documented exit codes (0 done, 1 failed, 2 usage or nothing to do), and name every
configuration problem with its variable and fix, without a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.settings import load_settings
from tests.agent_harness import SECRET
from tests.test_cli_cases import env  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DSR = str(Path(sys.executable).with_name("dsr"))
HEAVY = ("spacy", "slack_bolt", "slack_sdk", "aiohttp", "alembic", "faker", "thinc")
#: What a `dsr store` command starts without: the desk (its workers, case store, mail, the
#: classifier) and the libraries of other commands; jinja2 only when a report is written.
NOT_FOR_STORE = (
    "bot.work",
    "bot.case.store",
    "intents",
    "mail",
    "structlog",
    "phonenumbers",
    "babel",
    "storage.customer.schema",
    # the synchronous Core path (storage/bridge.py): no asyncio layer, ORM, async drivers
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "sqlmodel",
    "asyncpg",
    "aiosqlite",
    "greenlet",
    "email_validator",
)

#: Runs `dsr ARGS` in this interpreter and prints the exit code and which heavy modules loaded.
PROBE = """
import json, sys
from bot.cli.main import main
sys.argv = ["dsr", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print(json.dumps({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def _probe(env: dict[str, str], cwd: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _dsr(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    return subprocess.run(
        [DSR, *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    """An embedded-default store in tmp_path, migrated, with the reference customer tables."""
    values = {
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dsr.db'}",
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
        "DSR_SECRET_KEY": SECRET,
    }
    for step in (("db", "upgrade"), ("store", "seed", "--customers", "3")):
        done = _dsr(values, tmp_path, *step)
        assert done.returncode == 0, done.stderr
    return values


def test_help_lists_every_command_quickly_and_imports_none(tmp_path: Path) -> None:
    result = _dsr({}, tmp_path, "--help")
    assert result.returncode == 0
    for name in ("run", "db", "audit", "store", "cases", "classify", "demo", "report", "inbox"):
        assert f"  {name} " in result.stdout, name
    assert "0 done, 1 failed, 2 usage or nothing to do" in result.stdout.replace("\n  ", " ")
    probe = _probe({}, tmp_path, "--help")
    assert probe == {"code": 0, "loaded": []}
    # How long it takes is measured in tests/bench/bench_cli.py (README: Benchmarks).


def test_every_command_has_a_help_line_so_listing_imports_nothing() -> None:
    from bot.cli import main

    assert set(main._MODULE_OF) == set(main._HELP)


def test_version(tmp_path: Path) -> None:
    result = _dsr({}, tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("dsr-bot ")


@pytest.mark.parametrize(
    "args",
    [
        ("store", "find", "customer1@example.com"),
        ("store", "export", "nobody@example.com", "--out", "pkg"),
        ("cases", "list"),
        ("audit", "verify"),
        ("report",),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_staff_commands_never_load_spacy_or_slack(
    store: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    probe = _probe(store, tmp_path, *args)
    assert probe["loaded"] == [], probe
    assert probe["code"] in (0, 2)  # export of nobody: a usage error, exit 2


@pytest.mark.parametrize(
    ("args", "writes_report"),
    [
        (("store", "find", "C00000001"), False),
        (("store", "erase", "C00000002"), False),  # the preview: it can run twice
        (("store", "export", "C00000003", "--out", "pkg"), True),
    ],
    ids=lambda a: " ".join(a[:2]) if isinstance(a, tuple) else None,
)
def test_store_commands_start_with_only_the_store(
    store: dict[str, str], tmp_path: Path, args: tuple[str, ...], writes_report: bool
) -> None:
    """The start-up the benchmark times (README: Benchmarks) stays lean: none of the desk's
    modules, and each process after the first reuses the reflected schema."""
    heavy = NOT_FOR_STORE if writes_report else (*NOT_FOR_STORE, "jinja2")
    probe = PROBE.replace(repr(HEAVY), repr(heavy))
    for _ in range(2):  # the second process reads what the first one kept
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args],
            env={**os.environ, **store},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["code"] == 0, proc.stderr
        assert result["loaded"] == [], result
    assert len(list((tmp_path / "var" / "cache").glob("customer-schema-*.pickle"))) == 1


def test_exit_codes_for_nothing_to_do_and_usage(env: dict[str, str]) -> None:
    runner = CliRunner()
    approve = runner.invoke(app, ["cases", "approve", "DSR-1"], env=env)
    assert approve.exit_code == 2 and "nothing to approve" in approve.output
    missing = runner.invoke(app, ["cases", "show", "DSR-99"], env=env)
    assert missing.exit_code == 2
    unknown = runner.invoke(app, ["cases", "frobnicate"], env=env)
    assert unknown.exit_code == 2


def test_store_change_never_claims_success_before_it_is_done(
    store: dict[str, str], tmp_path: Path
) -> None:
    bad = _dsr(store, tmp_path, "store", "change", "C00000001", "phone=12345", "--apply")
    assert bad.returncode == 2 and "applied" not in bad.stdout
    good = _dsr(store, tmp_path, "store", "change", "C00000001", "city=Gent", "--apply")
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("change applied:")
    again = _dsr(store, tmp_path, "store", "change", "C00000001", "city=Gent", "--apply")
    assert again.returncode == 2 and "nothing to change" in again.stdout


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("foo", "'foo' is not a database URL; write sqlite:///"),
        ("mysql://u:secret@db.example.com/x", "mysql databases are not supported"),
    ],
    ids=["not-a-url", "mysql"],
)
def test_bad_database_urls_are_named_with_the_fix(tmp_path: Path, url: str, said: str) -> None:
    result = _dsr({"DSR_DATABASE_URL": url}, tmp_path, "report")
    assert result.returncode == 2
    assert "DSR_DATABASE_URL" in result.stderr and said in result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr


def test_an_unreachable_server_is_a_failure_named_by_its_variable(tmp_path: Path) -> None:
    url = "postgres://dsr:secret@127.0.0.1:1/dsr"  # the form hosting platforms give
    for args in (("report",), ("db", "upgrade"), ("store", "find", "x")):
        result = _dsr({"DSR_DATABASE_URL": url, "DSR_SECRET_KEY": SECRET}, tmp_path, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert "DSR_DATABASE_URL" in result.stderr, args
        assert "Traceback" not in result.stderr and "secret" not in result.stderr, args


def test_postgres_scheme_is_accepted() -> None:
    settings = load_settings(database_url="postgres://dsr@db.example.com:5432/dsr")
    assert settings.database_url == "postgresql://dsr@db.example.com:5432/dsr"


def test_unknown_variables_are_warned_with_the_nearest_known(tmp_path: Path) -> None:
    result = _dsr({"DSR_DATAMAPP": "x.yaml", "DSR_SMTP_HOTS": "mail"}, tmp_path, "keys", "generate")
    assert result.returncode == 0
    assert "DSR_DATAMAPP" in result.stderr and "did you mean DSR_DATAMAP?" in result.stderr
    assert "did you mean DSR_SMTP_HOST?" in result.stderr


def test_a_mistyped_sqlite_directory_is_refused_unless_upgrade_creates_it(tmp_path: Path) -> None:
    env = {"DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'vra' / 'dsr.db'}"}
    refused = _dsr(env, tmp_path, "db", "upgrade")
    assert refused.returncode == 2 and "--create-dirs" in refused.stderr
    assert "DSR_DATABASE_URL" in refused.stderr and not (tmp_path / "vra").exists()
    assert _dsr(env, tmp_path, "report").returncode == 2
    created = _dsr(env, tmp_path, "db", "upgrade", "--create-dirs")
    assert created.returncode == 0 and (tmp_path / "vra" / "dsr.db").exists()
    # the embedded default's own folder is simply made
    assert _dsr({}, tmp_path, "db", "upgrade").returncode == 0
    assert (tmp_path / "var" / "dsr.db").exists()


def test_progress_bars_stay_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.progress import progress_bar

    with progress_bar("seeding customers", 10) as done:
        done(5)
    assert capsys.readouterr() == ("", "")


def test_training_epochs_drive_the_bar_without_log_lines() -> None:
    import logging

    from bot.cli.progress import counting

    seen: list[float] = []
    trainer = logging.getLogger("intents.train")
    with counting("intents.train", "epoch", seen.append):
        trainer.info("epoch %s loss %.4f", 0, 1.0)
        trainer.info("thresholds tuned")
        trainer.info("epoch %s loss %.4f", 1, 0.5)
    assert seen == [1, 2] and trainer.propagate


def test_what_dsr_creates_is_for_its_own_user_only(tmp_path: Path) -> None:
    """Every dsr process starts with umask 077: the embedded default's var/ and its databases
    are the desk's alone, even when the shell's umask is loose."""
    old = os.umask(0o022)
    try:
        done = _dsr({"DSR_SECRET_KEY": SECRET}, tmp_path, "db", "upgrade")
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    var = tmp_path / "var"
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "dsr.db").stat().st_mode) == 0o600
