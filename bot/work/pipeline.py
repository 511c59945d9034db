"""Advancing cases: route a fresh case, expire an unanswered challenge, execute an approved case.

Work is claimed (`bot.case.store.claim_due_cases`) with a lease (`next_action_at`), so several
`dsr run` processes share it and a crashed one's work is picked up again. Every move goes through
`bot.case.lifecycle.transition`, so its audit event and mails commit with it. Customer-store
operations are idempotent per case (the executor's receipts), so a repeat after a crash does no
harm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession
from structlog.contextvars import bound_contextvars

from bot.case import store, verify
from bot.case.data import SubjectFacts, case_data, reply_thread, verified_address
from bot.case.lifecycle import CaseState, Event, transition
from bot.case.messages import OutboxItem, mail_item, slack_item
from bot.case.policy import OBJECT_MARKETING, RESTRICT, Route, ordered, route
from bot.case.recipients import Action
from bot.case.store import add_outbox, get_case
from bot.work import recipients
from bot.work.desk import Desk
from bot.work.purge import desk_requests, erase_desk_records, purge_date
from bot.work.telling import (
    Telling,
    forward_to_controllers,
    holdings_before_erasure,
    shared_with_lines,
    shared_with_words,
)
from intents.labels import Intent
from storage import audit
from storage.customer import (
    AmbiguousSubject,
    CustomerStoreError,
    InvalidChange,
    Subject,
    SubjectNotFound,
    rights,
)
from storage.db import conflict
from storage.errors import ConcurrentUpdateError
from storage.models import Case, reference_of, utcnow

log = logging.getLogger(__name__)

#: DONE only for a restriction being lifted (its `next_action_at` is set by `actions.lift`).
WORK_STATES = (
    CaseState.RECEIVED,
    CaseState.AWAITING_VERIFICATION,
    CaseState.APPROVED,
    CaseState.DONE,
)
#: How long a lifting waits again while the customer's mail is not yet accepted.
LIFT_RECHECK = timedelta(minutes=5)
MAX_CHALLENGES = 3


async def claim_due(desk: Desk, limit: int = 10) -> list[int]:
    """Lease up to `limit` cases whose next action is due; returns their ids."""
    now = utcnow()
    lease = timedelta(seconds=desk.settings.work_lease_seconds)
    me = desk.instance
    alive = await me.alive() if me is not None else None  # a dead owner's claims are due now
    async with desk.sessions() as session, session.begin():
        ids = await store.claim_due_cases(
            session,
            WORK_STATES,
            now=now,
            lease_until=now + lease,
            limit=limit,
            worker=me.id if me is not None else None,
            alive=alive,
        )
    return ids


async def advance_due(desk: Desk, limit: int = 10, concurrency: int = 1) -> int:
    """Claim due cases and advance each one step, oldest first; returns how many.

    One at a time by default: steps decide against each other (only one open challenge per
    address and intent, so of two requests about one person the older is challenged first,
    not whichever step happened to finish first); several desks still work in parallel."""
    ids = await claim_due(desk, limit)
    gate = asyncio.Semaphore(concurrency)

    async def one(case_id: int) -> None:
        async with gate:
            due_at = None
            try:
                await advance(desk, case_id)
            except ConcurrentUpdateError:
                # Someone changed it first (a joined request): decided again at once on the
                # fresh case, not after the lease. Only our own claim is touched: a transition
                # clears the claim and sets its own next action (an expiry), which stands.
                log.info("DSR-%s moved by someone else; due again", case_id)
                due_at = utcnow() if desk.instance is not None else None
            except DBAPIError as exc:
                if not conflict(exc):
                    raise
                # PostgreSQL cancelled the step for another desk's transaction (a deadlock):
                # nothing of it was kept; released below and due again at once (not after
                # the lease, which would leave the case waiting minutes for nothing).
                log.warning("DSR-%s: step cancelled by a deadlock; due again", case_id)
                due_at = utcnow()
            if desk.instance is not None or due_at is not None:
                # a step that made no move keeps only its lease; a cancelled one is due now
                async with desk.sessions() as session, session.begin():
                    await store.release_case(
                        session,
                        case_id,
                        desk.instance.id if desk.instance is not None else None,
                        due_at=due_at,
                    )

    if concurrency == 1:
        for case_id in ids:
            await one(case_id)
        return len(ids)
    async with asyncio.TaskGroup() as tg:
        for case_id in ids:
            tg.create_task(one(case_id))
    return len(ids)


async def advance(desk: Desk, case_id: int) -> None:
    """One step for one case, chosen by its state (logs carry the case reference)."""
    with bound_contextvars(case=reference_of(case_id)):
        async with desk.sessions() as session:
            case = await get_case(session, case_id)
        if case.state == CaseState.RECEIVED:
            await _route(desk, case)
        elif case.state == CaseState.AWAITING_VERIFICATION:
            await _expire(desk, case)
        elif case.state == CaseState.APPROVED:
            await _execute(desk, case)
        elif case.state == CaseState.DONE:
            await _lift(desk, case)


def _ack_context(case: Case) -> dict[str, Any]:
    return {
        "case_ref": case.reference,
        "intents": list(case.intents),
        "due_date": case.effective_due.isoformat(),
    }


def to_requester(
    desk: Desk, case: Case, template: str, *, completes: bool = False, **context: Any
) -> OutboxItem:
    """A mail to whoever wrote, threaded under their message. Never carries personal data."""
    assert case.requester_address
    return mail_item(
        template,
        to=case.requester_address,
        lang=case.language,
        context={"case_ref": case.reference, **context},
        completes=completes,
        **reply_thread(case),
    )


async def _fresh(session: AsyncSession, case: Case) -> Case:
    """The case as it is now, to transition from a step decided on `case`.

    Raises:
        ConcurrentUpdateError: another desk moved it on since (its claim looked orphaned, or a
            joined request changed it); nothing is written, and the case is due again, to be
            decided on what it is now.
    """
    current = await get_case(session, case.id or 0)
    if current.state != case.state:
        raise ConcurrentUpdateError(f"{case.reference} moved on while we worked on it")
    return current


async def _move(
    desk: Desk,
    case: Case,
    event: Event,
    *,
    details: dict[str, Any],
    outbox: Sequence[OutboxItem] = (),
    changes: dict[str, Any] | None = None,
    then: Callable[[AsyncSession, Case], Awaitable[object]] | None = None,
) -> None:
    """One system transition in its own transaction, on a fresh copy of the case; the case
    needs no further scheduled action unless `changes` says otherwise. `then` adds work to the
    same transaction (recipient tasks)."""
    async with desk.sessions() as session, session.begin():
        current = await _fresh(session, case)
        await transition(
            session,
            current,
            event,
            actor="system",
            details=details,
            changes={"next_action_at": None, **(changes or {})},
            outbox=outbox,
            domain=desk.settings.own_domain,
        )
        if then is not None:
            await then(session, current)


async def _route(desk: Desk, case: Case) -> None:
    facts = case_data(case)
    where = route(
        case.intents,
        needs_review=case.needs_review,
        rights=facts.rights,
        on_behalf=facts.on_behalf,
    )
    domain = desk.settings.own_domain
    cards = [slack_item("case_card", case=case.reference)] if desk.slack_enabled else []
    if where is Route.TRIAGE or not case.requester_address:
        await _move(desk, case, Event.TRIAGE, details={"route": where.value}, outbox=cards)
        return
    data = case_data(case)
    if Intent.CHANGE in case.intents and not data.changes:
        # Never to approval without a field: staff supply it (the customer hears we have it).
        acks = [] if data.acknowledged else [_acknowledge(case)]
        await _move(
            desk,
            case,
            Event.NEEDS_FIELD,
            details={"route": "needs_field"},
            outbox=[*acks, *cards],
            changes={"data": data.with_(acknowledged=True).to_json()},
        )
        return
    if where is Route.CONCERN:
        ack = to_requester(
            desk,
            case,
            "concern_ack",
            authority_name=desk.settings.authority_name,
            authority_url=desk.settings.authority_url,
            due_date=case.effective_due.isoformat(),
        )
        await _move(
            desk,
            case,
            Event.NO_VERIFICATION_NEEDED,
            details={"route": where.value},
            outbox=[ack, *cards],
        )
        return
    if where is Route.UNSUBSCRIBE:
        # Only the sending address is opted out (and, for an objection, suppressed): no data is
        # disclosed, so no verification is needed, exactly as for a plain unsubscribe.
        result = await desk.executor.unsubscribe(case.requester_address, case.reference)
        objection = OBJECT_MARKETING in facts.rights
        if objection:
            await rights.suppress(
                desk.executor.engine,
                desk.settings.suppression_key_bytes(),
                case.requester_address,
                case.reference,
            )
        done = "objection_done" if objection else "unsubscribe_done"
        async with desk.sessions() as session, session.begin():
            current = await _fresh(session, case)
            await transition(
                session,
                current,
                Event.NO_VERIFICATION_NEEDED,
                actor="system",
                details={"route": where.value},
                domain=domain,
            )
            await transition(
                session,
                current,
                Event.AUTO_APPROVE,
                actor="system",
                details={"policy": "unsubscribe_at_once"},
                domain=domain,
            )
            await transition(
                session,
                current,
                Event.CARRY_OUT,
                actor="system",
                details={"unsubscribed": _total(result.counts), "suppressed": objection},
                changes={"next_action_at": None},
                outbox=[to_requester(desk, case, done, completes=True), *cards],
                domain=domain,
            )
        return
    await _challenge(desk, case, cards)


def _total(counts: dict[str, dict[str, int]]) -> int:
    return sum(sum(v.values()) for v in counts.values())


async def _lookup(desk: Desk, case: Case) -> SubjectFacts:
    """Find the subject by every identifier the request carries; addresses on file only."""
    addresses: list[str] = []
    accounts: list[str] = []
    ambiguous = False
    for identity in case_data(case).identifiers:
        match = await desk.executor.find(identity, counts=False)
        if match.ambiguous:
            ambiguous = True
            accounts.extend(match.accounts)
            if "@" in identity:
                addresses.append(identity.lower())  # all these accounts share this address
        elif match.subject is not None:
            accounts.extend(match.accounts)
            # An account's address as stored (its row's spelling comes first): with
            # `email_match: casefold` a request from `alice@example.org` may find
            # `Alice@Example.org`. Without an account row only the request's forms are known.
            forms = match.subject.values("email")
            if match.subject.account_pk is not None:
                addresses.extend(forms[:1])
            else:
                addresses.extend(a.lower() for a in forms)
    by_folded = {a.lower(): a for a in reversed(addresses)}  # one challenge per mailbox
    unique = list(dict.fromkeys(by_folded[a.lower()] for a in addresses))[:MAX_CHALLENGES]
    return SubjectFacts(
        found=bool(unique),
        addresses=tuple(unique),
        ambiguous=ambiguous,
        accounts=tuple(dict.fromkeys(accounts))[:10],
    )


def _acknowledge(case: Case) -> OutboxItem:
    """The requester's acknowledgement: the same whether or not we hold data about anyone."""
    assert case.requester_address
    return mail_item(
        "acknowledgement",
        to=case.requester_address,
        lang=case.language,
        context=_ack_context(case),
        **reply_thread(case),
    )


def _new_address(desk: Desk, case: Case) -> str | None:
    """The new e-mail address a change asks for, when the e-mail on file is what changes."""
    datamap = desk.executor.datamap
    account = datamap.account_table
    identity = (datamap.tables[account].find.identity or {}) if account else {}
    column = identity.get("email")
    if Intent.CHANGE not in case.intents or column is None:
        return None
    return dict(case_data(case).changes).get(column)


def _asks(case: Case, old: str, new: str | None) -> list[dict[str, Any]]:
    """What the challenge to `old` says was asked (template context; see `mail.i18n.ASKED`)."""
    asks: list[dict[str, Any]] = []
    for intent in ordered(case.intents):
        if intent == Intent.CHANGE:
            fields = [f for f, _ in case_data(case).changes]
            if new is not None:
                asks.append({"kind": "change_email", "old": old, "new": new})
                fields = [f for f in fields if f != "email"]
            if fields:
                asks.append({"kind": "change", "fields": fields})
            elif new is None:  # the request names no field: staff will ask
                asks.append({"kind": "change_any"})
        elif intent in (Intent.SEE, Intent.DELETE, Intent.UNSUBSCRIBE):
            asks.append({"kind": str(intent)})
    if RESTRICT in case_data(case).rights:
        asks.append({"kind": "restrict"})
    return asks or [{"kind": "other"}]


async def _withheld(
    desk: Desk, session: AsyncSession, case: Case, sent_to: str, *, now: datetime
) -> str | None:
    """Why no challenge may go to this address now (a per-address limit), or None."""
    limit = desk.settings.challenges_per_address_per_day
    if await store.challenges_sent_since(session, sent_to, now - timedelta(days=1)) >= limit:
        return "daily_limit"
    others = await store.open_challenge_intents(session, sent_to, now=now, other_than=case.id or 0)
    if any(set(intents) & set(case.intents) for intents in others):
        return "open_challenge"
    return None


async def _challenge(desk: Desk, case: Case, cards: list[OutboxItem]) -> None:
    subject = await _lookup(desk, case)
    settings = desk.settings
    ttl = timedelta(days=settings.challenge_ttl_days)
    items = [] if case_data(case).acknowledged else [_acknowledge(case)]
    if case_data(case).on_behalf and not case_data(case).acknowledged:
        # Whether or not anyone was found: the same words, so nothing reveals an account.
        items.append(to_requester(desk, case, "representative_needed"))
    if case_data(case).processor:
        # Which reseller holds the data is told only after verification, to the address on
        # file (`_forward_to_controllers`): naming it now would tell anyone an account exists.
        if desk.slack_enabled:
            items.append(slack_item("thread_note", case=case.reference, note="processor_data"))
    # Asked whether or not an account was found: the new address is often the requester's own,
    # and getting (or not getting) this challenge must not tell them whether one exists.
    new_address = _new_address(desk, case)
    requester = case.requester_address
    now = utcnow()
    # Consent from every address on file (any one answers), then ownership of a new address
    # (which alone never verifies anything).
    targets = [(a, verify.Purpose.CONSENT) for a in subject.addresses]
    if new_address:
        targets.append((new_address, verify.Purpose.OWNERSHIP))
    withheld: list[str] = []
    sent = 0
    async with desk.sessions() as session, session.begin():
        current = await _fresh(session, case)
        await add_outbox(session, current, items, domain=settings.own_domain)
        for address, purpose in targets:
            sent_to = desk.address_key(address)
            why = await _withheld(desk, session, current, sent_to, now=now)
            if why is not None:
                withheld.append(why)
                await audit.append(
                    session,
                    action="challenge_withheld",
                    actor="system",
                    case_ref=case.reference,
                    details={"to": sent_to, "why": why, "purpose": purpose.value},
                )
                continue
            same = requester is not None and desk.address_key(requester) == sent_to
            context: dict[str, Any] = {
                "case_ref": case.reference,
                "asked_on": case.received_at.date().isoformat(),
                "requester": None if same else requester,
            }
            if purpose is verify.Purpose.CONSENT:
                context["asks"] = _asks(case, address, new_address)
            else:  # the new address learns nothing about the account or who asked
                del context["requester"]
            template = "challenge" if purpose is verify.Purpose.CONSENT else "challenge_new_address"
            placeholder = mail_item(template, to=address, lang=case.language, context=context)
            (row,) = await add_outbox(session, current, [placeholder], domain=settings.own_domain)
            assert row.message_id is not None
            _, code = await verify.issue(
                session,
                current,
                key=desk.key,
                sent_to=sent_to,
                message_id=row.message_id,
                ttl=ttl,
                max_attempts=settings.challenge_max_attempts,
                purpose=purpose,
            )
            row.payload = {
                **row.payload,
                "context": {**context, "code": code, "expires_at": (now + ttl).isoformat()},
            }
            await store.save_outbox_row(session, row)
            sent += 1
        if withheld and desk.slack_enabled:
            cards.append(slack_item("thread_note", case=case.reference, note="challenge_withheld"))
        await transition(
            session,
            current,
            Event.CLASSIFY,
            actor="system",
            details={
                "route": "verify",
                "challenges": sent,
                "withheld": len(withheld),
                "ambiguous": subject.ambiguous,
            },
            changes={
                "data": case_data(case)
                .with_(
                    subject=subject,
                    acknowledged=True,
                    new_address=new_address,
                    withheld=tuple(withheld),
                )
                .to_json(),
                "subject_pseudonym": desk.pseudonym(subject.addresses[0])
                if subject.addresses
                else None,
                "next_action_at": now + ttl,
            },
            outbox=cards,
            domain=settings.own_domain,
        )


async def _lift(desk: Desk, case: Case) -> None:
    """Art. 18(3): lift the restriction only after the customer's mail was accepted."""
    async with desk.sessions() as session, session.begin():
        current = await get_case(session, case.id or 0, for_update=True)
        data = case_data(current)
        if data.lifting != "pending":
            current.next_action_at = None  # nothing to do for a done case
            await store.save_case(session, current)
            return
        waiting = [
            r
            for r in await store.undelivered_outbox(session, case_id=case.id)
            if r.template == "restriction_lifting"
        ]
        if waiting:
            current.next_action_at = utcnow() + LIFT_RECHECK
            await store.save_case(session, current)
            return
    lifted = await rights.lift(desk.executor.engine, case.reference)
    cards = [slack_item("case_card", case=case.reference)] if desk.slack_enabled else []
    await _move(
        desk,
        case,
        Event.NOTE,
        details={"note": "restriction_lifted", "lifted": lifted},
        changes={"data": data.with_(lifting="lifted").to_json()},
        outbox=cards,
    )


#: How long an expiry waits again while a challenge mail has not reached its address.
EXPIRY_RECHECK = timedelta(days=1)


async def _expire(desk: Desk, case: Case) -> None:
    async with desk.sessions() as session, session.begin():
        waiting = [
            r
            for r in await store.undelivered_outbox(session, case_id=case.id)
            if r.template == "challenge"
        ]
        if waiting:
            # The customer cannot answer a challenge they never got: no expiry for "no
            # confirmation" while our own mail is still on its way (the outbox keeps trying).
            current = await get_case(session, case.id or 0, for_update=True)
            current.next_action_at = utcnow() + EXPIRY_RECHECK
            await store.save_case(session, current)
            return
    outbox = [to_requester(desk, case, "expired")] if case.requester_address else []
    if desk.slack_enabled:
        outbox.append(slack_item("case_card", case=case.reference))
    await _move(desk, case, Event.EXPIRE, details={"reason": "not_verified_in_time"}, outbox=outbox)


async def _execute(desk: Desk, case: Case) -> None:
    address = verified_address(case)
    cards = [slack_item("case_card", case=case.reference)] if desk.slack_enabled else []
    mails: list[OutboxItem] = []
    details: dict[str, Any] = {}
    tell: list[Telling] = []
    try:
        if address is None:
            raise CustomerStoreError("no address on file to act for; verify the subject first")
        try:
            subject: Subject | None = await desk.executor.subject(address)
        except SubjectNotFound:
            # A re-run after a crash: an earlier run may already have erased the subject.
            if await desk.executor.recorded_erasure(case.reference) is None:
                raise
            subject = None
        if case_data(case).processor:
            mails.append(await forward_to_controllers(desk, case, subject, address, tell))
        for intent in ordered(case.intents):
            mails.extend(await _do(desk, case, intent, subject, address, details, tell))
        if RESTRICT in case_data(case).rights:
            mails.extend(await _restrict(desk, case, subject, address, details, tell))
    except CustomerStoreError as exc:
        async with desk.sessions() as session:  # keeps what this run wrote (who held the rows)
            fresh = case_data(await get_case(session, case.id or 0))
        await _move(
            desk,
            case,
            Event.FAIL,
            details={"error": type(exc).__name__},
            changes={"data": fresh.with_(failure=failure_words(exc)).to_json()},
            outbox=cards,
        )
        log.warning("%s failed: %s", case.reference, type(exc).__name__)
        return
    # Done only when the mail server accepted the result mails (the outbox worker moves it).
    event = Event.CARRY_OUT if mails else Event.COMPLETE

    async def open_tasks(session: AsyncSession, current: Case) -> None:
        for holdings, action, fields in tell:
            await recipients.open_tasks(session, desk, current, holdings, action, fields=fields)

    if tell:
        details["recipients"] = sum(len(h) for h, _, _ in tell)
    await _move(desk, case, event, details=details, outbox=[*mails, *cards], then=open_tasks)


def failure_words(exc: CustomerStoreError) -> str:
    """Why carrying a case out failed, in plain words for staff (pure; values never appear:
    the store's messages name fields, not values)."""
    text = str(exc)[:400]
    if isinstance(exc, SubjectNotFound):
        return (
            "the customer is no longer in the customer store (erased or changed since the request)"
            f" ({text})"
        )
    if isinstance(exc, AmbiguousSubject):
        return f"several customer accounts match; the request must name one ({text})"
    if isinstance(exc, InvalidChange):
        return f"the correction cannot be made as given: {text}"
    return text


async def _do(
    desk: Desk,
    case: Case,
    intent: str,
    subject: Subject | None,
    address: str,
    details: dict[str, Any],
    tell: list[Telling],
) -> list[OutboxItem]:
    """Carry out one intent; mails go to the address on file only. `subject` is None only when
    an earlier run of this case already erased it (then recorded work is replayed). Recipients
    to tell of an erasure or correction are added to `tell`."""

    def to_subject(template: str, **context: Any) -> OutboxItem:
        return mail_item(
            template,
            to=address,
            lang=case.language,
            context={"case_ref": case.reference, **context},
            completes=True,
            **reply_thread(case),
            **extra,
        )

    extra: dict[str, Any] = {}
    executor = desk.executor
    out_dir = desk.packages_dir / case.reference
    if intent == Intent.SEE:
        files = [out_dir / "personal-data.json", out_dir / "personal-data.html"]
        held: list[str] = []
        if subject is not None:
            # What the desk itself holds about the person is part of what they may see.
            on_file = case_data(case).subject
            mine = await desk_requests(
                desk, case, [address, *(on_file.addresses if on_file else ())]
            )
            package = await executor.export(subject, out_dir, case.language, desk=mine)
            details["see_tables"] = sum(1 for t in package.tables if t.rows)
            held = [t.table for t in package.tables if t.rows]
            portable = await executor.export_portable(subject, out_dir)
            files.extend(portable.files)
        elif not all(f.exists() for f in files):
            raise SubjectNotFound("the subject was erased before its access package was made")
        else:  # a re-run after a crash: the files the first run wrote
            files.extend(sorted(out_dir.glob("provided-*")))
        extra = {"attachments": [str(f) for f in files]}
        return [
            to_subject(
                "access_package",
                portable=len(files) > 2,
                asked_recipients=case_data(case).asks_recipients,
                shared_with=shared_with_lines(executor.datamap, held),
            )
        ]
    if intent == Intent.CHANGE:
        changes = dict(case_data(case).changes)
        if not changes:
            raise CustomerStoreError(
                "the request names no field to change; supply it with `dsr cases change`"
            )
        if subject is None:
            raise SubjectNotFound("the subject is no longer findable; staff must check the change")
        plan = await executor.preview_change(subject, changes)
        changed = [c.column for c in plan.changes]
        spec = executor.datamap.tables[plan.table]
        categories = {spec.column(c).category for c in changed if c in spec.columns}
        tables = [
            name
            for name, t in executor.datamap.tables.items()
            if any(t.column(c).category in categories for c in t.columns)
        ]
        holdings = await executor.recipient_holdings(subject, only=tables) if tables else []
        await executor.apply_change(plan, case.reference)
        details["changed_fields"] = changed
        if holdings:
            tell.append((holdings, Action.RECTIFICATION, changed))
        return [to_subject("change_done", fields=changed, **shared_with_words(holdings))]
    if intent == Intent.DELETE:
        recorded = await executor.recorded_erasure(case.reference)
        if recorded is not None:
            erasure = recorded  # finish or replay what an earlier run started
        elif subject is not None:
            erasure = await executor.preview_erasure(subject)
        else:
            raise SubjectNotFound("nothing to erase and no erasure recorded for this case")
        gone = [t.table for t in erasure.tables if t.rows and t.action in ("delete", "anonymize")]
        holdings = await holdings_before_erasure(desk, case, subject, gone)
        await executor.apply_erasure(erasure, case.reference)
        if holdings:
            tell.append((holdings, Action.ERASURE, []))
        retained = [
            {
                "table": t.table,
                "what": t.title,
                "why": t.legal_basis or "",
                "until": t.kept_until.date().isoformat() if t.kept_until else None,
            }
            for t in erasure.tables
            if t.action == "retain" and t.rows
        ]
        details["erased_tables"] = sum(1 for t in erasure.tables if t.rows)
        # The desk's own records of the person go too (a pseudonymous record stays), and the
        # mail says when this request's own messages and addresses follow.
        on_file = case_data(case).subject
        erased = await erase_desk_records(
            desk, case, [address, *(on_file.addresses if on_file else ())]
        )
        details["desk_records_erased"] = erased
        purge_on = purge_date(desk.settings.case_retention, utcnow()).date().isoformat()
        return [
            to_subject(
                "delete_done",
                retained=retained,
                desk_purged=erased,
                desk_purge_on=purge_on,
                **shared_with_words(holdings),
            )
        ]
    if intent == Intent.UNSUBSCRIBE:
        await executor.unsubscribe(address, case.reference)
        if OBJECT_MARKETING in case_data(case).rights:
            key = desk.settings.suppression_key_bytes()
            details["suppressed"] = await rights.suppress(
                executor.engine, key, address, case.reference
            )
            return [to_subject("objection_done")]
        return [to_subject("unsubscribe_done")]
    return []


async def _restrict(
    desk: Desk,
    case: Case,
    subject: Subject | None,
    address: str,
    details: dict[str, Any],
    tell: list[Telling],
) -> list[OutboxItem]:
    """Art. 18: mark the subject's rows restricted per purpose; tell the subject (on file) and,
    like an erasure or correction, every recipient of the restricted tables (Art. 19)."""
    if subject is None:
        raise SubjectNotFound("the subject is no longer findable; nothing to restrict")
    executor = desk.executor
    selectors = await executor.selectors(subject)
    marks = await rights.restrict(executor.engine, executor.datamap, selectors, case.reference)
    details["restricted_rows"] = marks
    tables = [name for name, sel in selectors.items() if sel.values and _purposes(desk, name)]
    holdings = await executor.recipient_holdings(subject, only=tables) if tables else []
    if holdings:
        tell.append((holdings, Action.RESTRICTION, []))
    purposes = sorted(
        {p for name, sel in selectors.items() if sel.values for p in _purposes(desk, name)}
    )
    return [
        mail_item(
            "restriction_done",
            to=address,
            lang=case.language,
            context={
                "case_ref": case.reference,
                "purposes": purposes,
                **shared_with_words(holdings),
            },
            completes=True,
            **reply_thread(case),
        )
    ]


def _purposes(desk: Desk, table: str) -> list[str]:
    spec = desk.executor.datamap.tables.get(table)
    return [] if spec is None or spec.processor_for else list(spec.purposes)
