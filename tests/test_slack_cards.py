"""The card and views are pure: escaping, buttons per state, and the README's example card."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.cards import CardFacts, case_card, escape, plain
from bot.slack.views import (
    CaseLine,
    digest_blocks,
    extend_modal,
    home_view,
    new_case_modal,
    note_text,
    read_meta,
    reminder_text,
)

EXAMPLE = Path(__file__).parent / "data" / "slack-card-example.json"
HOSTILE = "<!channel> <@U024BE7LH> <https://evil.example|click me> *bold* _it_ ~x~ `c` &amp;"


def example_facts() -> CardFacts:
    """The card shown in the README (a deletion awaiting its second approver)."""
    return CardFacts(
        ref="DSR-42",
        state="awaiting_approval",
        intents=("see", "delete"),
        due=date(2026, 12, 20),
        today=date(2026, 12, 15),
        language="de",
        confidence=0.91,
        channel="email",
        requester="jane.doe@example.com",
        verification="Verified: the code was typed in a reply from the address on file",
        found=(
            ("Your customer account", 1),
            ("Newsletter subscriptions", 1),
            ("Invoices", 3),
            ("Server and account activity logs", 57),
        ),
        previews=(
            (
                "Deletion preview",
                (
                    "Your customer account: 1 anonymized (username, email, name, phone, street)",
                    "Newsletter subscriptions: 1 deleted",
                    "Invoices: 3 retained until 2036-12-31 (tax law: invoices are kept 10 years)",
                    "Server and account activity logs: 57 deleted",
                ),
            ),
        ),
        notes=("Approvals: 1 of 2 (four-eyes for deletion)",),
    )


def text_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every text object (plain_text or mrkdwn) anywhere in a Block Kit structure."""
    if isinstance(node, dict):
        if node.get("type") in {"plain_text", "mrkdwn"} and isinstance(node.get("text"), str):
            yield node
        for value in node.values():
            yield from text_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from text_objects(item)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U024BE7LH> hi", "&lt;@U024BE7LH&gt; hi"),
        ("<https://evil.example|click>", "&lt;https://evil.example∣click&gt;".replace("∣", "ǀ")),
        ("*bold* _it_ ~s~ `c`", "∗bold∗ ˍitˍ ∼s∼ ˋcˋ"),
        ("> quoted\nnot > quoted", "› quoted\nnot &gt; quoted"),
        ("&lt;", "&amp;lt;"),
        ("a\u202eb\x00c", "abc"),
    ],
    ids=["channel", "mention", "link", "formatting", "quote", "entity", "controls"],
)
def test_escape(raw: str, expected: str) -> None:
    assert escape(raw) == expected


@given(st.text(max_size=300))
def test_escape_leaves_nothing_slack_would_parse(text: str) -> None:
    out = escape(text)
    assert not set(out) & set("<>*_~`|")
    assert re.fullmatch(r"([^&]|&(amp|lt|gt);)*", out, flags=re.DOTALL)


def test_plain_shortens_and_drops_controls() -> None:
    assert plain("a\u2066b" + "x" * 50, 10) == "ab" + "x" * 7 + "…"


def test_hostile_text_only_ever_reaches_slack_inert() -> None:
    facts = CardFacts(
        ref="DSR-7",
        state="awaiting_approval",
        intents=("change",),
        due=date(2026, 1, 31),
        today=date(2026, 1, 1),
        requester=HOSTILE,
        found=((HOSTILE, 1),),
        previews=(("Proposed change", (f"Name: Jane → {HOSTILE}",)),),
        notes=(f"Extension reason: {escape(HOSTILE)}",),
    )
    blocks = case_card(facts)
    for obj in text_objects(blocks):
        if obj["type"] == "mrkdwn":
            assert obj["verbatim"] is True
            assert not re.search(r"<[!@#h]", obj["text"]), obj["text"]
            assert "*bold*" not in obj["text"]
        else:
            assert obj.get("emoji") in {False, None}
    plain_texts = [o["text"] for o in text_objects(blocks) if o["type"] == "plain_text"]
    assert any(HOSTILE in t for t in plain_texts)  # shown to staff as typed, never parsed


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("awaiting_approval", ["approve", "reject", "reclassify", "extend"]),
        ("awaiting_verification", ["verify_manually", "reject", "reclassify", "extend"]),
        ("needs_triage", ["triage_intent", "reclassify", "dismiss", "reject", "extend"]),
        ("failed", ["retry", "reclassify", "reject", "extend"]),
        ("approved", []),
        ("done", []),
        ("rejected", []),
    ],
)
def test_buttons_fit_the_state(state: str, expected: list[str]) -> None:
    facts = CardFacts(
        ref="DSR-1", state=state, intents=("see",), due=date(2026, 2, 1), today=date(2026, 1, 1)
    )
    assert action_ids(case_card(facts)) == expected


def test_overdue_stands_out_and_closed_does_not() -> None:
    base = {"ref": "DSR-3", "intents": ("see",), "due": date(2026, 1, 1), "today": date(2026, 1, 4)}
    open_card = json.dumps(
        case_card(CardFacts(state="awaiting_approval", **base)), ensure_ascii=False
    )
    assert ":warning: *2026-01-01 — overdue by 3 day(s)*" in open_card
    assert "overdue" not in json.dumps(case_card(CardFacts(state="done", **base)))


def test_example_card_in_tests_data_is_what_the_code_builds() -> None:
    built = {"blocks": case_card(example_facts())}
    stored = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert stored == built, "regenerate with: python -m tests.test_slack_cards"
    assert len(built["blocks"]) <= 50


def test_views() -> None:
    today = date(2026, 3, 10)
    lines = [
        CaseLine("DSR-2", "awaiting_approval", ("delete",), date(2026, 3, 8)),
        CaseLine("DSR-1", "needs_triage", ("other",), date(2026, 3, 12)),
        CaseLine("DSR-3", "awaiting_verification", ("see",), date(2026, 4, 10)),
    ]
    digest = json.dumps(digest_blocks(lines, today))
    assert "Overdue: 1" in digest and "Due within 7 days: 1" in digest
    assert digest.index("DSR-2") < digest.index("DSR-1") and "DSR-3" not in digest
    home = json.dumps(home_view(lines, today, allowed=True))
    assert home.index("DSR-2") < home.index("DSR-1") < home.index("DSR-3")
    assert "DSR-2" not in json.dumps(home_view(lines, today, allowed=False))
    assert read_meta(extend_modal("DSR-2", "C1")) == ("DSR-2", "C1")
    assert read_meta(new_case_modal(None)) == (None, None)
    assert read_meta({"private_metadata": "not json"}) == (None, None)
    assert "overdue by 2" in reminder_text("DSR-2", -2) and "due in 3" in reminder_text("X", 3)
    assert note_text("<!here> odd") == "Note: &lt;!here&gt; odd"


if __name__ == "__main__":
    EXAMPLE.write_text(
        json.dumps({"blocks": case_card(example_facts())}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {EXAMPLE}")


def test_a_done_restriction_offers_lifting_with_a_confirmation() -> None:
    base = {"ref": "DSR-4", "intents": ("concern",), "due": date(2026, 2, 1)}
    facts = CardFacts(state="done", today=date(2026, 1, 1), liftable=True, **base)
    blocks = case_card(facts)
    assert action_ids(blocks) == ["lift_restriction"]
    (element,) = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert "told first" in element["confirm"]["text"]["text"]
    # lifted or being lifted: no button (the facts say so), and never on an open case
    assert action_ids(case_card(CardFacts(state="done", today=date(2026, 1, 1), **base))) == []
