"""Identity verification: challenge codes sent to the address on file, and judging replies.

Codes are random, stored only as an HMAC, expire, and allow few attempts; at the cap the
challenge is revoked and its hash erased. A reply counts only if it comes from the address the
challenge went to, references the challenge (its Message-ID or its code), and is not marked as a
DMARC failure by our trusted authentication server. Judging is pure; storage is at the edge.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from storage.models import Case, VerificationChallenge, utcnow

# No 0/O, 1/I/L: codes are read by people.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_RE = re.compile(r"\b([A-Z2-9]{4})[-\s]?([A-Z2-9]{4})\b")


class Verdict(StrEnum):
    """Outcome of judging one reply."""

    OK = "ok"
    SPOOFED = "spoofed"  # DMARC failed at our trusted server
    WRONG_SENDER = "wrong_sender"  # not the address the challenge went to
    NO_PROOF = "no_proof"  # neither the challenge's Message-ID nor a code
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    USED = "used"  # replayed: the challenge was already answered
    REVOKED = "revoked"  # too many attempts


@dataclass(frozen=True)
class Reply:
    """What a reply offers as proof."""

    sender_pseudonym: str
    references: tuple[str, ...]
    text: str
    dmarc: str | None


def new_code() -> str:
    """A fresh code such as `K7Q2-M9XD` (40 bits of randomness)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def hash_code(key: bytes, code: str) -> str:
    """The stored form of a code (HMAC-SHA-256 with the secret key)."""
    canonical = code.replace("-", "").replace(" ", "").upper()
    return hmac.new(key, b"code\x00" + canonical.encode(), sha256).hexdigest()


def codes_in(text: str) -> list[str]:
    """Candidate codes in a reply's text (upper-cased, so `k7q2-m9xd` counts)."""
    return [a + b for a, b in _CODE_RE.findall(text.upper())][:5]


def judge(challenge: VerificationChallenge, reply: Reply, *, key: bytes, now: datetime) -> Verdict:
    """Decide whether `reply` answers `challenge`. Pure; the caller records the outcome."""
    if challenge.used_at is not None:
        return Verdict.USED
    if challenge.revoked_at is not None or challenge.attempts >= challenge.max_attempts:
        return Verdict.REVOKED
    if now >= challenge.expires_at:
        return Verdict.EXPIRED
    if reply.dmarc is not None and reply.dmarc.lower() == "fail":
        return Verdict.SPOOFED
    if not hmac.compare_digest(reply.sender_pseudonym, challenge.sent_to_pseudonym):
        return Verdict.WRONG_SENDER
    candidates = codes_in(reply.text)
    if any(hmac.compare_digest(hash_code(key, c), challenge.code_hash) for c in candidates):
        return Verdict.OK
    if challenge.message_id and challenge.message_id in reply.references:
        return Verdict.OK
    return Verdict.WRONG_CODE if candidates else Verdict.NO_PROOF


async def issue(
    session: AsyncSession,
    case: Case,
    *,
    key: bytes,
    sent_to_pseudonym: str,
    message_id: str,
    ttl: timedelta,
    max_attempts: int,
) -> tuple[VerificationChallenge, str]:
    """Store a new challenge (hash only) and return it with the clear code for the mail."""
    code = new_code()
    challenge = VerificationChallenge(
        case_id=case.id or 0,
        code_hash=hash_code(key, code),
        message_id=message_id,
        sent_to_pseudonym=sent_to_pseudonym,
        expires_at=utcnow() + ttl,
        max_attempts=max_attempts,
    )
    await store.add_challenge(session, challenge)
    return challenge, code


async def answer(
    session: AsyncSession, case: Case, reply: Reply, *, key: bytes, now: datetime | None = None
) -> Verdict:
    """Judge `reply` against the case's open challenges and record the attempt (no commit).

    A failed attempt counts against every open challenge it was judged against; at the cap the
    challenge is revoked and its hash erased, so it can never be answered.
    """
    now = now or utcnow()
    challenges = await store.open_challenges(session, case.id or 0)
    if not challenges:
        return Verdict.USED
    verdicts = [(c, judge(c, reply, key=key, now=now)) for c in challenges]
    for challenge, verdict in verdicts:
        if verdict is Verdict.OK:
            challenge.used_at = now
            await store.save_challenge(session, challenge)
            return Verdict.OK
    for challenge, verdict in verdicts:
        if verdict in {Verdict.WRONG_CODE, Verdict.NO_PROOF, Verdict.SPOOFED}:
            challenge.attempts += 1
            if challenge.attempts >= challenge.max_attempts:
                challenge.revoked_at, challenge.code_hash = now, ""
            await store.save_challenge(session, challenge)
    order = [
        Verdict.SPOOFED,
        Verdict.WRONG_CODE,
        Verdict.NO_PROOF,
        Verdict.WRONG_SENDER,
        Verdict.EXPIRED,
        Verdict.REVOKED,
        Verdict.USED,
    ]
    found = {v for _, v in verdicts}
    return next(v for v in order if v in found)
