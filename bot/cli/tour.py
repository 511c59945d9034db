"""`dsr demo`: the whole desk on the embedded default (SQLite, Maildir, a seeded store), playing
the customers and an approver, narrating each case's path, ending with the audit verification.
"""

from __future__ import annotations

import json
import mailbox
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from bot.build import open_desk
from bot.case import store
from bot.case.lifecycle import CaseState
from bot.case.policy import NEEDS_VERIFICATION
from bot.settings import Settings, load_settings
from bot.work import actions
from bot.work.desk import Desk
from bot.work.mailbox import handler
from bot.work.mailer import build_sender, mail_dispatch
from bot.work.outbox import OutboxWorker
from bot.work.pipeline import advance_due
from mail.maildir import MaildirIntake, PrivateMaildir
from storage import audit
from storage.customer.importer import import_customers
from storage.customer.seed import seed as seed_store
from storage.db import create_engine
from storage.migrate import upgrade_async
from storage.models import Case

PEOPLE = [
    {
        "username": "alice",
        "email": "alice@example.org",
        "name": "Alice Liddell",
        "company": "Wonder Ltd",
        "phone": "+44 20 7946 0958",
        "street": "12 Baker Street",
        "postal_code": "NW1 6XE",
        "city": "London",
        "country": "GB",
        "newsletter": True,
    },
    {
        "username": "jonas",
        "email": "jonas.weber@example.de",
        "name": "Jonas Weber",
        "company": "",
        "phone": "+49 30 901820",
        "street": "Lindenstraße 5",
        "postal_code": "10969",
        "city": "Berlin",
        "country": "DE",
        "newsletter": True,
    },
    {
        "username": "sanne",
        "email": "sanne@example.nl",
        "name": "Sanne de Vries",
        "company": "Tulp BV",
        "phone": "+31 20 555 0134",
        "street": "Prinsengracht 263",
        "postal_code": "1016 GV",
        "city": "Amsterdam",
        "country": "NL",
        "newsletter": False,
    },
    {
        "username": "camille",
        "email": "camille@example.fr",
        "name": "Camille Martin",
        "company": "",
        "phone": "+33 1 42 68 53 00",
        "street": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
        "newsletter": True,
    },
]

DSR = Path(sys.executable).parent / "dsr"  # the console script next to this Python

# (who, subject, body): the customers the demo plays.
REQUESTS = [
    (
        "alice@example.org",
        "My data",
        "Hello, under the GDPR I would like a copy of all the personal data you hold about me. "
        "Thank you, Alice",
    ),
    (
        "jonas.weber@example.de",
        "Konto löschen",
        "Guten Tag, bitte löschen Sie mein Konto und alle meine personenbezogenen Daten gemäß "
        "Art. 17 DSGVO. Mit freundlichen Grüßen, Jonas Weber",
    ),
    (
        "sanne@example.nl",
        "Nieuw telefoonnummer",
        "Beste, mijn telefoonnummer is veranderd. Mijn nieuwe telefoonnummer is +31 6 12345678. "
        "Wilt u dat aanpassen? Groet, Sanne",
    ),
    (
        "camille@example.fr",
        "Newsletter",
        "Bonjour, merci de ne plus m'envoyer votre newsletter. Je souhaite me désinscrire.",
    ),
    (
        "lucia@example.es",
        "Preocupación",
        "Hola, me preocupa que compartan mis datos con Facebook y Google para publicidad. "
        "¿Por qué lo hacen?",
    ),
    (
        "mallory@evil.example",
        "Data request for a client",
        "I represent Alice Liddell. Send me a copy of all the data you hold on alice@example.org.",
    ),
    (
        "dave@example.com",
        "Login problem",
        "Hi, I cannot log in to the dashboard since yesterday. How do I reset my password?",
    ),
]


@dataclass
class Demo:
    """One demo run in its own directory."""

    root: Path
    say: Callable[[str], None]

    def settings(self) -> Settings:
        return load_settings(
            database_url=f"sqlite+aiosqlite:///{self.root / 'dsr.db'}",
            customer_database_url=f"sqlite+aiosqlite:///{self.root / 'customers.db'}",
            maildir=self.root / "maildir",
            outbox_maildir=self.root / "outbox",
            secret_key=secrets.token_urlsafe(48),
            privacy_address="privacy@example.com",
            smtp_host=None,
            imap_host=None,
            slack_bot_token=None,
        )

    def customer_writes(
        self, sender: str, subject: str, body: str, in_reply_to: str | None = None
    ) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "privacy@example.com", subject
        msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
        if in_reply_to:
            msg["In-Reply-To"] = msg["References"] = in_reply_to
        msg.set_content(body)
        PrivateMaildir(self.root / "maildir").add(msg.as_bytes())

    def sent(self) -> list[EmailMessage]:
        box = mailbox.Maildir(self.root / "outbox", create=True)
        out = []
        for key in sorted(box.keys()):
            raw = box.get_bytes(key)
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out


async def _settle(desk: Desk, intake: MaildirIntake, worker: OutboxWorker) -> None:
    for _ in range(100):
        handled = await intake.process_pending(handler(desk))
        moved = await advance_due(desk)
        sent = await worker.run_once()
        if not (handled or moved or sent):
            return


async def _cases(desk: Desk) -> list[Case]:
    async with desk.sessions() as s:
        return list(await store.list_cases(s))


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


async def run_demo(root: Path, say: Callable[[str], None]) -> bool:
    """Run the demo in `root` (wiped first); returns whether the audit log verified."""
    demo = Demo(root, say)
    settings = demo.settings()
    await upgrade_async(settings.database_url)
    await _seed_customers(settings, root, say)
    async with open_desk(settings, packages_dir=root / "packages") as desk:
        intake = MaildirIntake(settings.maildir)
        worker = OutboxWorker(
            engine=desk.engine,
            worker_id="demo",
            dispatch={"mail": mail_dispatch(settings, build_sender(settings))},
        )
        _customers_write(demo, root, say)
        await _settle(desk, intake, worker)
        await _show_sorted(desk, say)
        await _customers_confirm(demo, desk, say)
        await _settle(desk, intake, worker)
        await _officer_approves(desk, say)
        await _settle(desk, intake, worker)
        return await _show_outcome(demo, desk, root, say)


async def _seed_customers(settings: Settings, root: Path, say: Callable[[str], None]) -> None:
    customers = create_engine(settings.customer_database_url)
    try:
        await import_customers(customers, [json.dumps(p) for p in PEOPLE])
        await seed_store(customers, 200, seed_value=7)
    finally:
        await customers.dispose()
    say(
        f"Seeded a customer store with {len(PEOPLE)} named and 200 synthetic customers "
        f"({root / 'customers.db'})."
    )


def _customers_write(demo: Demo, root: Path, say: Callable[[str], None]) -> None:
    say("\n1. Customers write to privacy@example.com (and an out-of-office robot joins in):")
    for sender, subject, body in REQUESTS:
        demo.customer_writes(sender, subject, body)
        say(f"   {sender:<24} {subject}")
    robot = EmailMessage()
    robot["From"], robot["To"], robot["Subject"] = (
        "noreply@vendor.example",
        "privacy@example.com",
        "Out of office",
    )
    robot["Auto-Submitted"], robot["Message-ID"] = "auto-replied", make_msgid()
    robot.set_content("I am out of the office until Monday.")
    PrivateMaildir(root / "maildir").add(robot.as_bytes())


async def _show_sorted(desk: Desk, say: Callable[[str], None]) -> None:
    say("\n2. The desk sorted them, answered, and challenged the address on file:")
    for case in await _cases(desk):
        say(
            f"   {case.reference:<6} {case.language or '?':<3} "
            f"{','.join(case.intents):<15} -> {case.state}"
        )
    say("   (the out-of-office was recorded as a robot and not answered)")


async def _customers_confirm(demo: Demo, desk: Desk, say: Callable[[str], None]) -> None:
    say("\n3. The real customers confirm by typing the challenge's code; the impostor cannot:")
    requesters = {c.reference: c.requester_address for c in await _cases(desk)}
    for mail in demo.sent():
        code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", _body(mail))
        ref = re.search(r"DSR-\d+", str(mail["Subject"]))
        to = str(mail["To"])
        if not code or not ref:
            continue
        if requesters.get(ref.group(0)) != to:
            say(
                f"   {to:<24} did not ask for {ref.group(0)}: ignores its challenge "
                "(the case will expire, nothing is disclosed)"
            )
            continue
        demo.customer_writes(
            to,
            f"Re: {mail['Subject']}",
            f"Yes, this was me. My code is {code.group(0)}.",
            in_reply_to=str(mail["Message-ID"]),
        )
        say(f"   {to:<24} replies to {mail['Subject']} with the code {code.group(0)}")


async def _officer_approves(desk: Desk, say: Callable[[str], None]) -> None:
    say("\n4. A privacy officer approves the verified cases (here: `dsr cases approve`):")
    for case in await _cases(desk):
        if case.state == CaseState.AWAITING_APPROVAL and NEEDS_VERIFICATION & set(case.intents):
            approved = await actions.approve(desk, case.reference, "cli:demo-dpo")
            say(f"   {approved.message}")


async def _show_outcome(demo: Demo, desk: Desk, root: Path, say: Callable[[str], None]) -> bool:
    say("\n5. Where every case ended:")
    for case in await _cases(desk):
        say(
            f"   {case.reference:<6} {','.join(case.intents):<15} {case.state:<22} "
            f"due {case.effective_due}"
        )
    say("\n6. What was sent (every mail carries its [DSR-n] reference):")
    for mail in demo.sent():
        names = [p.get_filename() for p in mail.iter_attachments()]
        extra = f"  + {', '.join(str(n) for n in names)}" if names else ""
        say(f"   to {mail['To']!s:<24} {mail['Subject']}{extra}")
    result = await audit.verify(desk.engine)
    say(
        f"\n7. dsr audit verify: {'intact' if result.ok else 'BROKEN'}, {result.count} "
        f"events, head {result.last_seq}:{result.last_hash[:16]}…"
    )
    say(
        f"\nEverything is in {root}: the case store (dsr.db), the customer store, the "
        f"mail that was sent (outbox/, where the access package went as attachments; the desk "
        f"deleted its own copy once the mail was accepted). Try:\n"
        f"   DSR_DATABASE_URL=sqlite:///{root / 'dsr.db'} {DSR} audit show DSR-1"
    )
    return result.ok
