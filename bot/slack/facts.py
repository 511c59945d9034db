"""Gathers what a case card shows: the case, its approvals, and what the customer store holds
and would do (find, erasure preview, change diff). The I/O half of the card; see slack_cards.
"""

from __future__ import annotations

import re
from datetime import date

from bot.case import store
from bot.case.data import CaseData, case_data, verified_address
from bot.case.lifecycle import OPEN_STATES, CaseState
from bot.case.policy import approvals_needed
from bot.case.recipients import task_line
from bot.case.store import get_case
from bot.slack.cards import CardFacts, escape
from bot.slack.views import CaseLine
from bot.work.desk import Desk
from bot.work.review import review
from intents.labels import Intent
from storage.customer import CustomerStoreError
from storage.models import Case, TaskStatus

_PREVIEW_STATES = frozenset(
    {CaseState.AWAITING_VERIFICATION, CaseState.AWAITING_APPROVAL, CaseState.FAILED}
)
_SLACK_USER = re.compile(r"^slack:([UW][A-Z0-9]{2,20})$")


def verification_text(case: Case) -> str:
    """How far the requester's identity is established, and how (our words; mrkdwn)."""
    by = case.verified_by
    data = case_data(case)
    if data.refused_by_subject:
        return (
            ":no_entry: *Refused by the subject*: the challenged address answered that it did "
            "not make this request. Closed, nothing done"
        )
    if by == "code":
        return "Verified: the code was typed in a reply from the address on file"
    if by == "code_old_and_new_address":
        return (
            "Verified: e-mail change confirmed by both addresses (the code from the address on "
            "file, and the code from the new address)"
        )
    if by == "reply":  # before codes were required (cases verified by an older version)
        return "Verified: the subject replied to the challenge from an address on file"
    if by:
        user = _SLACK_USER.match(by)
        who = f"<@{user.group(1)}>" if user else escape(by, 64)
        return f"Verified by hand by {who} (reason in the audit log)"
    subject = data.subject
    if case.state == CaseState.AWAITING_VERIFICATION and subject is not None:
        n = len(subject.addresses)
        if n == 0:
            return "No account found for the identifiers given: nobody to verify against"
        text = f"Challenge sent to {n} address(es) on file; waiting for the code"
        if data.new_address:
            done = set(data.confirmations)
            text = (
                "E-mail change: challenges to the address on file "
                f"({'confirmed' if 'consent' in done else 'waiting'}) and to the new address "
                f"({'confirmed' if 'ownership' in done else 'waiting'}); both codes are needed"
            )
        if data.withheld:
            text += f"; {len(data.withheld)} challenge(s) withheld by the per-address limit"
        return text + ("; several accounts match" if subject.ambiguous else "")
    if case.state in {CaseState.RECEIVED, CaseState.NEEDS_TRIAGE}:
        return "Not started"
    return "Not verified"


#: What the card says when the classifier sent a request to a person, by its review reason.
_REVIEW_NOTES = {
    "unknown_language": ":globe_with_meridians: Written in a language we do not understand "
    "(detected: `{lang}`): no intent was guessed",
    "no_text": "Nothing readable to classify (empty, noise or damaged text)",
    "out_of_distribution": "Unlike anything the classifier was trained on: please choose",
    "one_word": "A single word is too little to act on: please choose",
    "low_score": "The classifier is not sure enough: please choose",
    "close_intents": "Two intents scored nearly alike: please choose",
    "contradiction": "Reads both as a request and as no request: please choose",
    "too_many_intents": "Asks for more than two things at once: please choose",
}


def case_notes(case: Case, approvals: int, needed: int) -> tuple[str, ...]:
    """Context lines under the card (mrkdwn; staff- and customer-given text escaped)."""
    notes = []
    if case.state == CaseState.AWAITING_APPROVAL and needed > 1:
        notes.append(f"Approvals: {approvals} of {needed} (four-eyes for deletion)")
    data = case_data(case)
    if data.review_reason and case.state == CaseState.NEEDS_TRIAGE:
        notes.append(
            _REVIEW_NOTES.get(data.review_reason, data.review_reason).format(
                lang=escape(case.language or "?", 8)
            )
        )
    if data.refused_by_subject:
        notes.append(":no_entry: *The subject refused this request* (audit: case_subject_refused)")
    if data.withheld:
        why = ", ".join(sorted(set(data.withheld)))
        notes.append(
            f":warning: *Challenge burst*: {len(data.withheld)} challenge(s) not sent ({why}); "
            "see the audit log (challenge_withheld)"
        )
    if data.ignored_replies:
        notes.append(
            f":warning: {data.ignored_replies} reply(ies) could not count: not from the "
            "challenged address, DMARC failed, or a copy of our mail (audit: verification_refused)"
        )
    if data.dmarc == "fail":
        notes.append(":warning: DMARC failed for the sender address: identity only by challenge")
    if data.processor:
        notes.append(
            "Mentions domain-registration data, which we hold as a processor for resellers: "
            "the customer was pointed to their reseller"
        )
    notes.extend(rights_notes(data))
    if case.extension_reason:
        notes.append(f"Extension reason: {escape(case.extension_reason, 500)}")
    return tuple(notes)


_RIGHTS_WORDS = {
    "object_marketing": "Objection to direct marketing (Art. 21(2)): opt-out and suppression",
    "object": "Objection (Art. 21(1)): weigh it against our grounds",
    "restrict": "Restriction of processing (Art. 18): rows are marked restricted per purpose",
}


#: The right each cited intent stands for, as the card names it.
_CITED_WORDS = {
    "see": "access (Art. 15/20)",
    "change": "rectification (Art. 16)",
    "delete": "erasure (Art. 17)",
}


def rights_notes(data: CaseData) -> list[str]:
    """Card lines for sub-intents, cited articles, representatives, repeats and restriction
    lifting (pure)."""
    notes = [f":scales: {_RIGHTS_WORDS[r]}" for r in data.rights if r in _RIGHTS_WORDS]
    cited = [_CITED_WORDS[c] for c in data.cited if c in _CITED_WORDS]
    if cited:
        notes.append(f":page_facing_up: The letter cites the right of {' and '.join(cited)}")
    if data.purposes:
        listed = "; ".join(escape(p, 200) for p in data.purposes)
        notes.append(f"Purposes concerned (data map, Art. 6(1)(e)/(f)): {listed}")
    if data.on_behalf:
        notes.append(
            ":busts_in_silhouette: *On behalf of* someone else: the writer is a representative; "
            "the challenge went only to the subject's address on file, the representative was "
            "asked for an authorisation and proof"
        )
    if data.joined:
        notes.append(f":repeat: Requests joined to this case: {data.joined + 1} in all")
    if data.repetitive:
        earlier = ", ".join(data.history) or "none listed"
        notes.append(
            ":warning: *Repetitive requests* (Art. 12(5)): the same request again within the "
            f"window; earlier: {earlier}. Not refused: staff decide"
        )
    if data.lifting == "pending":
        notes.append("Restriction lifting: the customer is being told first (Art. 18(3))")
    elif data.lifting == "lifted":
        notes.append("Restriction lifted (the customer was told first)")
    return notes


async def _held(desk: Desk, case: Case) -> tuple[tuple[str, int], ...]:
    """Tables and row counts held about the subject (once someone is verified)."""
    address = verified_address(case)
    if address is None:
        return ()
    try:
        match = await desk.executor.find(address)
    except CustomerStoreError as exc:
        return ((f"Customer store unavailable: {type(exc).__name__}", 0),)
    return tuple((t.title, t.rows) for t in match.tables if t.rows)


async def card_facts(desk: Desk, ref: str, today: date | None = None) -> tuple[Case, CardFacts]:
    """Load a case and everything its card shows.

    Raises:
        CaseNotFound: no such case.
    """
    async with desk.sessions() as session:
        case = await get_case(session, ref)
        approvals = len(await store.approvers(session, case))
        tasks = await store.recipient_tasks(session, case.id or 0)
    found = await _held(desk, case)
    seen = await review(desk, case)
    previews = tuple(
        (title, lines)
        for title, lines in (("Proposed change", seen.change), ("Deletion preview", seen.erasure))
        if lines
    )
    facts = CardFacts(
        ref=case.reference,
        state=case.state,
        intents=tuple(Intent(i) for i in case.intents),
        due=case.effective_due,
        today=today or date.today(),
        language=case.language,
        confidence=case.confidence,
        needs_review=case.needs_review,
        channel=case.channel,
        requester=case.requester_address,
        verification=verification_text(case),
        extended=case.extended_to is not None,
        found=found,
        previews=previews,
        notes=case_notes(case, approvals, approvals_needed(case.intents, desk.policy)),
        message=seen.message,
        problem=seen.problem,
        liftable=case.state == CaseState.DONE
        and "restrict" in case_data(case).rights
        and case_data(case).lifting is None,
        recipients=tuple(
            (task_line(t), t.recipient_key, t.status == TaskStatus.BY_HAND) for t in tasks
        ),
    )
    return case, facts


async def open_case_lines(desk: Desk) -> list[CaseLine]:
    """Every open case as a list line (no personal data), by due date."""
    async with desk.sessions() as session:
        cases = await store.list_cases(session, states=list(OPEN_STATES))
    lines = [CaseLine(c.reference, c.state, tuple(c.intents), c.effective_due) for c in cases]
    return sorted(lines, key=lambda c: (c.due, c.ref))
