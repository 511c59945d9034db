"""Identity verification: challenge codes sent to an address, and judging the replies.

Consent is the code typed in the customer's own lines of a reply from the address the challenge
went to; a refusal, a question without the code, or a copy of our own challenge never verifies.
Codes are random, stored only as an HMAC, expire, and allow few attempts, and an attempt counts
only for a reply from the challenged address that no trusted server marked as a DMARC failure:
nobody else can spend them; a reply that may be forged (not answering the challenge's own
Message-ID, no DMARC pass, no right code) can neither refuse nor spend an attempt. At the cap
the challenge is revoked and its hash erased. Judging is
pure; storage is at the edge (`bot.case.store`).
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from bot.case.consent import Stance, echoes_challenge, stance
from storage.models import Case, VerificationChallenge, utcnow

# No 0/O, 1/I/L: codes are read by people.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CHARS = "A-HJKMNP-Za-hjkmnp-z2-9"  # ALPHABET, either case
#: Between the halves: nothing, or spaces, hyphens, dashes, dots or underscores (at most three).
_SEP = r"(?:[^\S\r\n]|[-\u2010-\u2015._\u00b7]){0,3}"
#: Two halves of four, standing alone: no letter or digit may touch the code on either side,
#: so `CODE587EU7WA` is no code. A lookahead, so overlapping candidates are all seen ("when
#: 587E U7WA" offers both WHEN587E and 587EU7WA).
_CODE_RE = re.compile(rf"(?<![^\W_])(?=([{_CHARS}]{{4}})({_SEP})([{_CHARS}]{{4}})(?![^\W_]))")
#: Candidates tried per reply, at most (a reply cannot try many guesses for one attempt).
MAX_CANDIDATES = 12


class Purpose(StrEnum):
    """Why a challenge was sent."""

    CONSENT = "consent"  # to an address on file: does its holder want this?
    OWNERSHIP = "ownership"  # to a new address for the account: does the requester hold it?


class Verdict(StrEnum):
    """Outcome of judging one reply against one challenge."""

    OK = "ok"
    REFUSED = "refused"  # the subject said no
    QUESTION = "question"  # no code, and a question ("what is this?")
    WRONG_SENDER = "wrong_sender"  # not the address the challenge went to: not counted
    SPOOFED = "spoofed"  # DMARC failed at our trusted server: not counted
    ECHO = "echo"  # a copy of our challenge (an auto-responder): not counted
    UNPROVEN = "unproven"  # no code, not threaded, no DMARC pass: may be forged; not counted
    STRAY_CODE = "stray_code"  # a wrong code, not threaded, no DMARC pass: a stray attempt
    WRONG_CODE = "wrong_code"  # counted
    NO_CODE = "no_code"  # counted
    EXPIRED = "expired"
    USED = "used"  # replayed: the challenge was already answered
    REVOKED = "revoked"  # too many attempts, or the case closed


#: Verdicts that spend one of the challenge's attempts.
COUNTED = frozenset({Verdict.WRONG_CODE, Verdict.NO_CODE})
#: Verdicts of replies that could not count: someone else, a forgery, a copy of our mail.
IGNORED = frozenset(
    {Verdict.WRONG_SENDER, Verdict.SPOOFED, Verdict.ECHO, Verdict.UNPROVEN, Verdict.STRAY_CODE}
)
#: Wrong codes in mails that neither answer the challenge's own Message-ID nor pass DMARC: they
#: may be forged, so they never spend the customer's attempts; past this many they are not
#: even read for a code (guessing stays bounded, and the customer can still reply).
MAX_STRAY = 20
#: Verdicts that close the case as refused by the subject.
REFUSALS = frozenset({Verdict.REFUSED, Verdict.QUESTION})
# When a reply was judged against several challenges, the verdict that speaks for it.
_PRECEDENCE = (
    Verdict.OK,
    Verdict.REFUSED,
    Verdict.QUESTION,
    Verdict.SPOOFED,
    Verdict.ECHO,
    Verdict.STRAY_CODE,
    Verdict.UNPROVEN,
    Verdict.WRONG_CODE,
    Verdict.NO_CODE,
    Verdict.EXPIRED,
    Verdict.REVOKED,
    Verdict.USED,
    Verdict.WRONG_SENDER,
)


@dataclass(frozen=True)
class Reply:
    """A reply as judging sees it.

    Attributes:
        sender_key: `address_key` of the From address.
        text: the customer's own lines (subject typed by them and body without quotes).
        dmarc: the DMARC result from our trusted authentication server, if any.
        references: In-Reply-To and References: naming the challenge's own Message-ID (which
            only its recipient has seen) shows the reply answers that mail. It proves nothing
            on its own any more: consent is the code.
        words: the lines whose wording counts for a refusal (default: `text`).
    """

    sender_key: str
    text: str
    dmarc: str | None
    references: tuple[str, ...] = ()
    words: str | None = None


@dataclass(frozen=True)
class Answer:
    """What `answer` decided: the verdict, and the challenge it concerns (None when none)."""

    verdict: Verdict
    challenge: VerificationChallenge | None = None


def new_code() -> str:
    """A fresh code such as `K7Q2-M9XD` (31^8, about 40 bits of randomness)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def hash_code(key: bytes, code: str) -> str:
    """The stored form of a code (HMAC-SHA-256 with the secret key), separators and case aside."""
    canonical = re.sub(r"[^0-9A-Za-z]", "", code).upper()
    return hmac.new(key, b"code\x00" + canonical.encode(), sha256).hexdigest()


def address_key(key: bytes, address: str, *, casefold_local: bool = False) -> str:
    """The keyed form of an address for the sender check: `addr_<32 hex>`.

    The address as stored: the local part exactly (lower-cased only when the data map says
    `email_match: casefold`, and then with `str.lower`, never `casefold`, so `straße` is not
    `strasse`), the domain lower-cased (domains are case-insensitive), NFC-normalised.
    """
    local, _, domain = unicodedata.normalize("NFC", address.strip()).rpartition("@")
    canonical = f"{local.lower() if casefold_local else local}@{domain.lower()}"
    mac = hmac.new(key, b"address\x00" + canonical.encode(), sha256)
    return "addr_" + mac.hexdigest()[:32]


def codes_in(text: str) -> list[str]:
    """Candidate codes in the customer's own text, canonical (upper case, no separator).

    Any separator or none, any case; a code must stand alone (`CODE587EU7WA` is none). Those
    written with a separator, then those with a digit, come first; at most `MAX_CANDIDATES`.
    """
    found: dict[str, tuple[bool, bool]] = {}
    for first, sep, second in _CODE_RE.findall(text):
        code = (first + second).upper()
        rank = (not sep.strip(), not any(ch.isdigit() for ch in code))
        found[code] = min(found.get(code, rank), rank)
    return sorted(found, key=lambda c: found[c])[:MAX_CANDIDATES]


def judge(challenge: VerificationChallenge, reply: Reply, *, key: bytes, now: datetime) -> Verdict:
    """Decide whether `reply` answers `challenge`. Pure; the caller records the outcome.

    Someone other than the challenged address (or a DMARC failure) gets a verdict that never
    touches the challenge, before anything else is looked at. A mail that may be forged (it
    neither answers the challenge's Message-ID nor passes DMARC, and carries no right code)
    cannot refuse or spend an attempt. A refusal wins over a code.
    """
    if not hmac.compare_digest(reply.sender_key, challenge.sent_to_pseudonym):
        return Verdict.WRONG_SENDER
    dmarc = (reply.dmarc or "").lower()
    if dmarc == "fail":
        return Verdict.SPOOFED
    if challenge.used_at is not None:
        return Verdict.USED
    if challenge.revoked_at is not None or challenge.attempts >= challenge.max_attempts:
        return Verdict.REVOKED
    if now >= challenge.expires_at:
        return Verdict.EXPIRED
    if echoes_challenge(reply.text):
        return Verdict.ECHO
    authentic = dmarc == "pass" or bool(
        challenge.message_id and challenge.message_id in reply.references
    )
    if not authentic and challenge.stray_attempts >= MAX_STRAY:
        return Verdict.UNPROVEN
    candidates = codes_in(reply.text)
    has_code = bool(challenge.code_hash) and any(
        hmac.compare_digest(hash_code(key, c), challenge.code_hash) for c in candidates
    )
    if not (authentic or has_code):
        return Verdict.STRAY_CODE if candidates else Verdict.UNPROVEN
    said = stance(reply.text if reply.words is None else reply.words)
    if said is Stance.REFUSAL:
        return Verdict.REFUSED
    if has_code:
        return Verdict.OK
    if said is Stance.QUESTION:
        return Verdict.QUESTION
    return Verdict.WRONG_CODE if candidates else Verdict.NO_CODE


def strongest(verdicts: Sequence[Verdict]) -> Verdict:
    """The verdict that speaks for a reply judged against several challenges."""
    return next(v for v in _PRECEDENCE if v in verdicts)


def confirmed(challenges: Sequence[VerificationChallenge]) -> bool:
    """True when a case's challenges prove enough: one consent answered, and every ownership
    challenge (a new address for the account) answered too."""
    consent = any(c.purpose == Purpose.CONSENT and c.used_at for c in challenges)
    ownership = all(c.used_at for c in challenges if c.purpose == Purpose.OWNERSHIP)
    return consent and ownership


async def issue(
    session: AsyncSession,
    case: Case,
    *,
    key: bytes,
    sent_to: str,
    message_id: str,
    ttl: timedelta,
    max_attempts: int,
    purpose: Purpose = Purpose.CONSENT,
) -> tuple[VerificationChallenge, str]:
    """Store a new challenge (hash only) and return it with the clear code for the mail.

    Args:
        sent_to: the `address_key` of the address the challenge goes to.
    """
    code = new_code()
    challenge = VerificationChallenge(
        case_id=case.id or 0,
        code_hash=hash_code(key, code),
        message_id=message_id,
        sent_to_pseudonym=sent_to,
        purpose=purpose,
        expires_at=utcnow() + ttl,
        max_attempts=max_attempts,
    )
    await store.add_challenge(session, challenge)
    return challenge, code


async def answer(
    session: AsyncSession, case: Case, reply: Reply, *, key: bytes, now: datetime | None = None
) -> Answer:
    """Judge `reply` against the case's open challenges and record the outcome (no commit).

    Only a reply from the challenged address spends an attempt (a wrong or missing code); at the
    cap the challenge is revoked and its hash erased, so it can never be answered.
    """
    now = now or utcnow()
    challenges = await store.open_challenges(session, case.id or 0)
    if not challenges:
        return Answer(Verdict.USED)
    verdicts = [(c, judge(c, reply, key=key, now=now)) for c in challenges]
    best = strongest([v for _, v in verdicts])
    chosen = next(c for c, v in verdicts if v is best)
    if best is Verdict.OK:
        chosen.used_at = now
        await store.save_challenge(session, chosen)
    for challenge, verdict in verdicts:
        if best is not Verdict.OK and verdict in COUNTED:
            challenge.attempts += 1
            if challenge.attempts >= challenge.max_attempts:
                challenge.revoked_at, challenge.code_hash = now, ""
            await store.save_challenge(session, challenge)
        elif best is not Verdict.OK and verdict is Verdict.STRAY_CODE:
            challenge.stray_attempts += 1  # bounds guessing; the customer's attempts stay
            await store.save_challenge(session, challenge)
    return Answer(best, chosen)


async def revoke_open(session: AsyncSession, case: Case, now: datetime | None = None) -> int:
    """Revoke every challenge of a case that could still be answered (no commit); how many."""
    challenges = await store.open_challenges(session, case.id or 0)
    for challenge in challenges:
        challenge.revoked_at, challenge.code_hash = now or utcnow(), ""
        await store.save_challenge(session, challenge)
    return len(challenges)
