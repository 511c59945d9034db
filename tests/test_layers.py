"""The house's layers, read from the source with `ast`: the five wings of `bot/` and the three
leaves import only downwards, and only `bot/case/` writes SQL on the case store's tables."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WINGS = ("case", "work", "slack", "cli", "web")
#: What each part of the code may not import (prefix match on the dotted module name).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.case": ("bot.work", "bot.slack", "bot.cli", "bot.web", "bot.app", "bot.build", "bot.http"),
    "bot.work": ("bot.slack", "bot.cli", "bot.web", "bot.app", "bot.http"),
    "bot.slack": ("bot.cli", "bot.web", "bot.app"),
    "bot.cli": ("bot.slack.app", "bot.slack.commands", "bot.slack.staff", "bot.web"),
    # the auditors' pages and /metrics: bot/work and bot/case below it, mounted by bot/app.py
    "bot.web": ("bot.slack", "bot.cli", "bot.app", "bot.build", "bot.http"),
    "mail": ("bot", "intents", "storage"),
    "intents": ("bot", "mail", "storage"),
    "storage": ("bot", "mail", "intents"),
}
#: Tables of the case store; SQL on them lives in bot/case/ (and storage/, which defines them).
#: Outside bot/case/ a session may only be opened and its transaction begun (`session.begin`).
CASE_STORE_MODELS = (
    "Case",
    "Outbox",
    "InboundMessage",
    "VerificationChallenge",
    "Approval",
    "MailboxState",
    "TrainingLabel",
)
_SQL = re.compile(
    r"\b(?:select|update|delete|insert)\(\s*(?:" + "|".join(CASE_STORE_MODELS) + r")\b"
    r"|\bsession\.(?:add|add_all|get|exec|execute|delete|flush|merge)\("
    r"|\bwith_for_update\b"
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("part", sorted(FORBIDDEN), ids=str)
def test_imports_go_only_downwards(part: str) -> None:
    broken = []
    for path in _sources(part.replace(".", "/")):
        for module in _imports(path):
            for bad in FORBIDDEN[part]:
                if module == bad or module.startswith(bad + "."):
                    broken.append(f"{_module_name(path)} imports {module}")
    assert broken == [], "layer broken:\n" + "\n".join(sorted(set(broken)))


def test_bot_root_keeps_only_the_wiring() -> None:
    loose = {p.stem for p in (ROOT / "bot").glob("*.py")}
    assert loose == {"__init__", "__main__", "app", "build", "errors", "http", "settings"}
    for wing in WINGS:
        doc = ast.get_docstring(ast.parse((ROOT / "bot" / wing / "__init__.py").read_text()))
        assert doc and "import" in doc, f"bot/{wing}/__init__.py must say what it may import"


def test_only_the_case_wing_writes_sql_on_the_case_store() -> None:
    offenders = []
    for path in _sources("bot"):
        if path.is_relative_to(ROOT / "bot" / "case"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _SQL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "SQL on the case store outside bot/case/:\n" + "\n".join(offenders)


def test_no_state_or_intent_literals_in_bot() -> None:
    pattern = re.compile(r'"awaiting_approval"|"needs_triage"|== "see"|== "delete"')
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources("bot")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []
