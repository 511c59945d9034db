"""A case's working data (`Case.data`): identifiers to look up, the proposed change, what the
lookup found, how it was verified. Validated when read, so a typo in a key fails loudly.

Operational data of the case store: it may hold the customer's own identifiers and is never
copied into the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.case.policy import is_about_processor_data
from intents.extract import Extraction
from intents.shared_with import asks_about_recipients
from storage.models import Case

#: Identifiers looked up per request, at most (the requester's own first).
MAX_IDENTIFIERS = 10


class SubjectFacts(BaseModel):
    """What the lookup found: the addresses on file that were challenged, and the accounts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    found: bool = False
    addresses: tuple[str, ...] = ()
    ambiguous: bool = False
    accounts: tuple[str, ...] = ()


class CaseData(BaseModel):
    """Everything the pipeline keeps on a case beyond its columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifiers: tuple[str, ...] = ()
    #: Proposed corrections as (field, new value) pairs, from the text or from staff.
    changes: tuple[tuple[str, str], ...] = ()
    dmarc: str | None = None
    #: The request's own Message-ID and References, for threading our replies.
    message_id: str | None = None
    references: tuple[str, ...] = ()
    subject_line: str = ""
    processor: bool = False
    staff_intake: bool = False
    subject: SubjectFacts | None = None
    verified_address: str | None = None
    #: The new e-mail address a change asks for; it is challenged too (does the requester hold it?).
    new_address: str | None = None
    #: Which challenges were answered with their code: `consent` (an address on file) and, for a
    #: change of the e-mail on file, `ownership` (the new address).
    confirmations: tuple[str, ...] = ()
    #: The subject refused the request (a NO, a denial, or a question without the code).
    refused_by_subject: bool = False
    #: Challenges not sent because of a per-address limit, with the reason (a burst).
    withheld: tuple[str, ...] = ()
    #: Replies that could not count: not from the challenged address, DMARC failures, copies.
    ignored_replies: int = 0
    manual_verification_reason: str | None = None
    #: Why carrying the case out failed, in plain words for staff.
    failure: str | None = None
    #: The requester was sent the acknowledgement (a case back from triage is not re-acknowledged).
    acknowledged: bool = False
    #: The due date (ISO) a reminder was already sent for.
    reminded_for: str | None = None
    #: Why the classifier sent the request to a person (`unknown_language`, `low_score`, …).
    review_reason: str = ""
    #: Sub-intents (`intents.rights`): object_marketing (Art. 21(2)), object (Art. 21(1)),
    #: restrict (Art. 18).
    rights: tuple[str, ...] = ()
    #: Someone writes for another person (a lawyer, parent, agent): the requester is not the
    #: subject; challenges go to the subject's address on file only.
    on_behalf: bool = False
    #: Intents whose GDPR article the request cites (`intents.articles`: 15/20 see, 16 change,
    #: 17 delete), shown on the card.
    cited: tuple[str, ...] = ()
    #: Purposes an Art. 21(1) objection concerns (from the data map), listed for staff.
    purposes: tuple[str, ...] = ()
    #: Later requests of the same intent from the same address that joined this case.
    joined: int = 0
    #: Art. 12(5): part of a manifestly repetitive stream; `history` names the earlier cases.
    repetitive: bool = False
    history: tuple[str, ...] = ()
    #: Lifting of this case's restriction: `pending` (the customer's mail is on its way) or
    #: `lifted` (Art. 18(3): told first, then lifted).
    lifting: str | None = None
    #: Who held the subject's rows before an erasure (`storage.customer.recipients.Holding`
    #: JSON): read before the rows go, so a re-run after a crash still tells them (Art. 19).
    recipient_holdings: tuple[dict[str, Any], ...] = ()
    #: The request asks whom the data was shared with (Art. 15(1)(c), 19 second sentence).
    asks_recipients: bool = False

    def purged(self) -> CaseData:
        """What is left once the case's personal content is purged (pure): how it was handled —
        flags, confirmations' names, counts, the review reason — never who asked, about whom,
        what they wrote or what they wanted changed (field names stay, values go)."""
        return CaseData(
            changes=tuple((f, "") for f, _ in self.changes),
            dmarc=self.dmarc,
            processor=self.processor,
            staff_intake=self.staff_intake,
            subject=SubjectFacts(found=self.subject.found) if self.subject else None,
            confirmations=self.confirmations,
            refused_by_subject=self.refused_by_subject,
            withheld=tuple("withheld" for _ in self.withheld),
            ignored_replies=self.ignored_replies,
            manual_verification_reason="(purged)" if self.manual_verification_reason else None,
            failure="(purged)" if self.failure else None,
            acknowledged=self.acknowledged,
            reminded_for=self.reminded_for,
            review_reason=self.review_reason,
        )

    def with_(self, **changes: Any) -> CaseData:
        """A copy with some fields replaced (validated)."""
        return CaseData.model_validate({**self.model_dump(), **changes})

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in `Case.data` (every key, defaults included)."""
        return self.model_dump(mode="json")


def case_data(case: Case) -> CaseData:
    """The case's data, validated."""
    return CaseData.model_validate(case.data or {})


def request_data(
    requester: str | None,
    found: Extraction,
    *,
    text: str,
    subject_line: str,
    message_id: str | None = None,
    references: Sequence[str] = (),
    dmarc: str | None = None,
    staff_intake: bool = False,
) -> CaseData:
    """The data a new request's case starts with, from any channel (pure).

    Args:
        requester: who asked (their address comes first among the identifiers).
        found: what extraction found in the text (addresses, handles, proposed changes).
        text: the request's text (a mention of domain-registration data marks it `processor`).
    """
    identifiers = [*(a for a in [requester] if a), *found.emails, *found.handles]
    return CaseData(
        identifiers=tuple(dict.fromkeys(identifiers))[:MAX_IDENTIFIERS],
        changes=tuple((str(f), str(v)) for f, v in found.changes),
        dmarc=dmarc,
        message_id=message_id,
        references=tuple(references),
        subject_line=subject_line[:200],
        processor=is_about_processor_data(text),
        asks_recipients=asks_about_recipients(text),
        staff_intake=staff_intake,
    )


def verified_address(case: Case) -> str | None:
    """The address on file that proved control (or the first on file, after manual checks)."""
    data = case_data(case)
    on_file = list(data.subject.addresses) if data.subject else []
    if data.verified_address:
        same = [a for a in on_file if a.lower() == data.verified_address.lower()]
        if same:
            return same[0]  # the spelling on file, not the reply's
    return on_file[0] if on_file else None


def reply_thread(case: Case) -> dict[str, Any]:
    """`in_reply_to` and `references` for any mail answering the case's request: threaded under
    the customer's own message, whatever address it goes to (pure)."""
    data = case_data(case)
    root = data.message_id
    return {"in_reply_to": root, "references": [*data.references, *([root] if root else [])]}
