"""Per-intent handling (DESIGN.md "Intents"): who must be verified, who must approve, and in
which order a multi-intent case's actions run. Pure data and decisions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from intents.labels import Intent


class Route(StrEnum):
    """What happens to a fresh case."""

    TRIAGE = "triage"  # other, or the classifier is unsure: staff decide
    VERIFY = "verify"  # see / change / delete: challenge the address on file, then approval
    CONCERN = "concern"  # acknowledge, route to the privacy team
    UNSUBSCRIBE = "unsubscribe"  # carry out at once for the sending address


# Execution order: see before change before delete; opt-out last (it is idempotent).
ACTION_ORDER = (Intent.SEE, Intent.CHANGE, Intent.DELETE, Intent.UNSUBSCRIBE, Intent.CONCERN)
NEEDS_VERIFICATION = frozenset({Intent.SEE, Intent.CHANGE, Intent.DELETE})

# Words that point to domain-registration data, which we hold as a processor for resellers.
_PROCESSOR_RE = re.compile(
    r"\b(domain[ -]?(name|registration|registrant|holder|owner|whois)s?|whois|"
    r"domeinnaam|domeinregistratie|domainregistrierung|domaininhaber|"
    r"nom de domaine|nombre de dominio|titular del dominio|registrazione del dominio)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Policy:
    """Settings of the policy that staff may change."""

    four_eyes_delete: bool = False


def ordered(intents: Iterable[str]) -> tuple[Intent, ...]:
    """The case's intents in execution order, without duplicates."""
    present = set(intents)
    return tuple(i for i in ACTION_ORDER if i in present)


def is_about_processor_data(text: str) -> bool:
    """True when the request is about domain-registration data (held for a reseller)."""
    return bool(_PROCESSOR_RE.search(text))


def route(
    intents: Sequence[str],
    *,
    needs_review: bool,
    rights: Sequence[str] = (),
    on_behalf: bool = False,
) -> Route:
    """Where a new case goes first. (Processor data is handled beside the route: the customer
    is pointed to the reseller and staff are told, while our own data follows the route.)

    A restriction needs the subject verified like an erasure; anything a representative asks
    for is verified with the subject (an opt-out "at once" holds only for the sender's own
    address, and a representative's address is not the subject's)."""
    labels = set(intents)
    if needs_review or not labels or labels == {Intent.OTHER}:
        return Route.TRIAGE
    if labels & NEEDS_VERIFICATION or RESTRICT in rights:
        return Route.VERIFY
    if on_behalf and Intent.UNSUBSCRIBE in labels:
        return Route.VERIFY
    if Intent.UNSUBSCRIBE in labels:
        return Route.UNSUBSCRIBE
    return Route.CONCERN


#: Sub-intents (`intents.rights`), kept in `CaseData.rights`.
OBJECT_MARKETING, OBJECT, RESTRICT = "object_marketing", "object", "restrict"


def rights_intents(intents: Sequence[Intent], rights: Sequence[str]) -> tuple[Intent, ...]:
    """The intents a case handles once its sub-intents are known (pure).

    An objection to direct marketing is an opt-out (`unsubscribe`) plus suppression, and needs
    no separate concern; a restriction ("don't delete it yet, stop using it") never erases, and
    with nothing else asked stays a `concern` carried out as a restriction after verification.
    """
    out = [i for i in intents if i != Intent.OTHER]
    if OBJECT_MARKETING in rights:
        out = [i for i in out if i != Intent.CONCERN]
        if Intent.UNSUBSCRIBE not in out:
            out.append(Intent.UNSUBSCRIBE)
    if RESTRICT in rights:
        out = [i for i in out if i not in (Intent.DELETE, Intent.UNSUBSCRIBE)]
        if not out:
            out = [Intent.CONCERN]
    if OBJECT in rights and not out:
        out = [Intent.CONCERN]
    return tuple(dict.fromkeys(out)) or tuple(intents)


def approvals_needed(intents: Iterable[str], policy: Policy) -> int:
    """Distinct approvers a case needs before it is executed."""
    return 2 if policy.four_eyes_delete and Intent.DELETE in set(intents) else 1
