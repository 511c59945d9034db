"""Through the whole desk (real Dovecot, SMTP server, case store, the reference customer store):
a formal rectification letter that cites Art. 16 and threatens a complaint is read as the
request it is, and the card names the article it cites."""

from __future__ import annotations

from bot.case.data import case_data
from bot.slack.facts import case_notes
from tests.agent_harness import Harness, letter

ALICE = "alice@example.org"

LETTER = """Dear Sir or Madam,

your records still hold my old street address, Lindenweg 4, although I moved in March. Under
Article 16 GDPR I ask you to correct it without undue delay to Kastanienallee 12, 10435 Berlin.

Please answer within one month (Art. 12(3) GDPR). If I hear nothing from you, I reserve the
right to lodge a complaint with the supervisory authority (Art. 77 GDPR).

Yours faithfully,
Alice Liddell"""


async def test_a_cited_article_reaches_the_case_and_its_card(h: Harness) -> None:
    await h.receive(letter(ALICE, "Rectification under Article 16 GDPR", LETTER))
    (case,) = await h.cases()
    assert case.intents[0] == "change" and "concern" not in case.intents
    assert case_data(case).cited == ("change",)
    notes = "\n".join(case_notes(case, 0, 1))
    assert "cites the right of rectification (Art. 16)" in notes
