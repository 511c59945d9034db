"""What carrying a case out asks of recipients and controllers: who held the rows an erasure
removes (kept on the case for a re-run), forwarding processor data to the resellers the rows
name, and the recipients the customer's letters name (Art. 15(1)(c), 19).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.case import store
from bot.case.data import case_data, reply_thread
from bot.case.messages import OutboxItem, mail_item
from bot.case.policy import ordered
from bot.case.recipients import Action, controller_holding, told_and_by_hand
from bot.case.store import get_case
from bot.work.desk import Desk
from storage.customer import Subject
from storage.customer.recipients import Holding
from storage.datamap import DataMap
from storage.models import Case

#: Recipients to tell after carrying a case out: who, about what, which fields (corrections).
Telling = tuple[list[Holding], Action, list[str]]


async def holdings_before_erasure(
    desk: Desk, case: Case, subject: Subject | None, tables: Sequence[str]
) -> list[Holding]:
    """Who holds the rows an erasure removes, read before they go and kept on the case (a re-run
    after a crash, when the rows are gone, reads the kept list)."""
    data = case_data(case)
    if data.recipient_holdings or subject is None:
        return [Holding.from_json(h) for h in data.recipient_holdings]
    holdings = await desk.executor.recipient_holdings(subject, only=tables)
    if holdings:
        async with desk.sessions() as session, session.begin():
            current = await get_case(session, case.id or 0, for_update=True)
            kept = case_data(current).with_(recipient_holdings=tuple(h.to_json() for h in holdings))
            current.data = kept.to_json()
            await store.save_case(session, current)
    return holdings


#: What the customer reads when we cannot tell which reseller holds the data.
SOME_RESELLER = "the reseller you registered your domain with"


async def forward_to_controllers(
    desk: Desk, case: Case, subject: Subject | None, address: str, tell: list[Telling]
) -> OutboxItem:
    """Processor data: forward the request to each controller (reseller) the subject's rows
    name, with the domain and what was asked only; the customer is told who, by name."""
    controllers = await desk.executor.processor_controllers(subject) if subject else []
    holdings = [controller_holding(c) for c in controllers]
    if holdings:
        tell.append((holdings, Action.PROCESSOR, [str(i) for i in ordered(case.intents)]))
    names = list(dict.fromkeys(h.name for h in holdings))
    if not names:
        forwarded = "none"
    elif all(h.channel == "email" for h in holdings):
        forwarded = "mail"
    else:
        forwarded = "by_hand"
    return mail_item(
        "processor_redirect",
        to=address,
        lang=case.language,
        context={
            "case_ref": case.reference,
            "reseller": ", ".join(names) if names else SOME_RESELLER,
            "forwarded": forwarded,
        },
        completes=True,
        **reply_thread(case),
    )


def shared_with_lines(datamap: DataMap, tables: Sequence[str]) -> list[str]:
    """`Recipient: categories` for the recipients of the tables holding the subject's rows,
    from the data map (Art. 15(1)(c); pure)."""
    out: dict[str, list[str]] = {}
    for name in tables:
        spec = datamap.tables[name]
        categories = [datamap.categories[spec.column(c).category] for c in spec.columns]
        for r in spec.recipients:
            out.setdefault(r.name, []).extend(categories)
    return [f"{name}: {'; '.join(dict.fromkeys(cats))}" for name, cats in out.items()]


def shared_with_words(holdings: Sequence[Holding]) -> dict[str, list[str]]:
    """The confirmation's context: recipients told, and those told by hand (pure)."""
    told, by_hand = told_and_by_hand(holdings)
    return {"recipients_told": told, "recipients_by_hand": by_hand}


__all__ = [
    "SOME_RESELLER",
    "Telling",
    "forward_to_controllers",
    "holdings_before_erasure",
    "shared_with_lines",
    "shared_with_words",
]
