"""Is this message from a machine? RFC 3834 and common practice (pure).

A message for which `detect_robot` returns a kind is recorded but never answered: answering
auto-replies, bounces, lists or our own mail starts mail loops or spams third parties.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol


class RobotKind(StrEnum):
    """Why a message is treated as machine-sent."""

    OWN_MAIL = "own_mail"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    AUTO_GENERATED = "auto_generated"
    LIST = "list"
    BULK = "bulk"
    NO_REPLY = "no_reply"


class RobotView(Protocol):
    """The fields of `ParsedMessage` that robot detection reads."""

    @property
    def message_id(self) -> str: ...
    @property
    def from_addr(self) -> str | None: ...
    @property
    def subject(self) -> str: ...
    @property
    def null_return_path(self) -> bool: ...
    @property
    def auto_submitted(self) -> str | None: ...
    @property
    def precedence(self) -> str | None: ...
    @property
    def list_id(self) -> str | None: ...
    @property
    def content_type(self) -> str: ...
    @property
    def report_type(self) -> str | None: ...

    def header(self, name: str) -> str | None: ...


_BOUNCE_LOCAL = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)$", re.I)
_LIST_LOCAL = re.compile(r"^(owner-.*|.*-request|.*-owner|listserv|majordomo|mailman)$", re.I)
_NOREPLY_LOCAL = re.compile(r"^(no-?reply|do-?not-?reply|noreply[-.+].*|bounces?([-+].*)?)$", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(able|ed)|delivery status notification|mail delivery (failed|failure"
    r"|subsystem)|returned mail|failure notice|delivery failure|unzustellbar"
    r"|onbestelbaar|non remis|no entregado|non-delivery)",
    re.I,
)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit"
    r"|automatische (antwort|reactie|beantwoording)|afwezig|réponse automatique"
    r"|absence du bureau|respuesta automática|fuera de la oficina|away from (the )?office)",
    re.I,
)
_DSR_ID = re.compile(r"^<DSR-\d+\.\d+\.[A-Za-z0-9]+@([^<>@\s]+)>$")


def _local_part(addr: str | None) -> str:
    return addr.rsplit("@", 1)[0] if addr and "@" in addr else ""


def detect_robot(
    msg: RobotView, *, own_domain: str, own_addresses: frozenset[str]
) -> RobotKind | None:
    """Classify a message as machine-sent, or None for a person.

    Args:
        msg: a parsed message.
        own_domain: the domain of our Message-IDs (`make_message_id`).
        own_addresses: our sending and receiving addresses, compared case-insensitively.

    Returns:
        The first matching kind, checked in the order own mail, bounce, auto-reply,
        auto-generated, list, bulk, no-reply; None when nothing marks it as machine-sent.
    """
    sender = (msg.from_addr or "").lower()
    own = {a.lower() for a in own_addresses}
    id_match = _DSR_ID.match(msg.message_id)
    if sender in own or (id_match and id_match.group(1).lower() == own_domain.lower()):
        return RobotKind.OWN_MAIL
    if msg.header("x-dsr-case") is not None:  # we stamp it on everything we send
        return RobotKind.OWN_MAIL

    local = _local_part(sender)
    if (
        msg.report_type == "delivery-status"
        or msg.header("x-failed-recipients") is not None
        or _BOUNCE_LOCAL.match(local)
        or (msg.null_return_path and _BOUNCE_SUBJECT.match(msg.subject))
    ):
        return RobotKind.BOUNCE

    auto = (msg.auto_submitted or "no").lower()
    if (
        auto == "auto-replied"
        or msg.report_type == "disposition-notification"
        or msg.header("x-autoreply") is not None
        or msg.header("x-autorespond") is not None
        or _AUTOREPLY_SUBJECT.match(msg.subject)
    ):
        return RobotKind.AUTO_REPLY
    if auto != "no":
        return RobotKind.AUTO_GENERATED
    if _BOUNCE_SUBJECT.match(msg.subject) and msg.null_return_path:
        return RobotKind.BOUNCE

    precedence = (msg.precedence or "").lower()
    if (
        msg.list_id
        or precedence == "list"
        or msg.header("list-post") is not None
        or _LIST_LOCAL.match(local)
    ):
        return RobotKind.LIST
    if precedence in ("bulk", "junk") or msg.header("list-unsubscribe") is not None:
        return RobotKind.BULK
    if msg.null_return_path:
        # RFC 3834 §3.1.1: a null reverse path marks a notification.
        return RobotKind.AUTO_GENERATED
    if _NOREPLY_LOCAL.match(local):
        return RobotKind.NO_REPLY
    return None
