"""What an outbox row carries: a templated mail to one address, or a Slack post or card update.

`MailPayload` is the one shape of a mail row, written by the pipeline and read back by the
mailer (the row's JSON column holds `MailPayload.to_json()`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.errors import StorageError


@dataclass(frozen=True)
class OutboxItem:
    """A message to send once the transaction commits."""

    kind: str  # mail | slack
    template: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None


@dataclass(frozen=True)
class MailPayload:
    """One templated mail: recipient, language, template context and threading."""

    to: str
    lang: str = "en"
    context: Mapping[str, Any] = field(default_factory=dict)
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    auto_submitted: bool = True
    #: A result mail: the case is `done` only once every such mail was accepted by the server.
    completes: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in `Outbox.payload`."""
        return {
            "to": self.to,
            "lang": self.lang,
            "context": dict(self.context),
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "attachments": list(self.attachments),
            "auto_submitted": self.auto_submitted,
            "completes": self.completes,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], *, row: int | None = None) -> MailPayload:
        """Read a stored payload back.

        Raises:
            StorageError: the row has no recipient (it was not written by `mail_item`).
        """
        if not isinstance(raw.get("to"), str) or not raw["to"]:
            raise StorageError(f"outbox row {row} has no recipient; it cannot be sent")
        return cls(
            to=raw["to"],
            lang=str(raw.get("lang") or "en"),
            context=dict(raw.get("context") or {}),
            in_reply_to=raw.get("in_reply_to"),
            references=tuple(str(r) for r in raw.get("references") or ()),
            attachments=tuple(str(a) for a in raw.get("attachments") or ()),
            auto_submitted=bool(raw.get("auto_submitted", True)),
            completes=bool(raw.get("completes", False)),
        )


def mail_item(
    template: str,
    *,
    to: str,
    lang: str | None,
    context: Mapping[str, Any],
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[str] = (),
    auto_submitted: bool = True,
    completes: bool = False,
) -> OutboxItem:
    """An outbox row for one templated mail (the Message-ID is assigned when it is stored)."""
    payload = MailPayload(
        to=to,
        lang=lang or "en",
        context=dict(context),
        in_reply_to=in_reply_to,
        references=tuple(references),
        attachments=tuple(attachments),
        auto_submitted=auto_submitted,
        completes=completes,
    )
    return OutboxItem("mail", template, payload.to_json())


def slack_item(template: str, **payload: Any) -> OutboxItem:
    """An outbox row for a Slack post or card update."""
    return OutboxItem("slack", template, payload)
