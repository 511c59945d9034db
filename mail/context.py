"""What each reply template takes, typed: outbox JSON (ISO strings) is turned back into dates here,
once, for every caller, so a template never meets a string where it formats a date.

Pure. `typed_context(template, raw)` returns a new dict; a value of the wrong kind raises
`TemplateError` naming the template and the key (a broken row is found at render time, not when
babel asserts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mail.errors import TemplateError

__all__ = ["CONTEXT_KEYS", "Retained", "typed_context"]


@dataclass(frozen=True, slots=True)
class Retained:
    """Data an erasure had to keep: which table, why (the law), until when.

    `table` is the store's table name (for a translated title); `what` and `why` are the data
    map's own words, used when no translation exists; `until` is None when no end date is known.
    """

    table: str
    what: str
    why: str
    until: date | None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a text")
    return value


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    raise TypeError("a date or an ISO date string")


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    raise TypeError("a datetime or an ISO datetime string")


def _texts(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise TypeError("a list of texts")
    return [_text(v) for v in value]


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("a count (a whole number, 0 or more)")
    return value


def _retained(value: Any) -> list[Retained]:
    if not isinstance(value, list | tuple):
        raise TypeError("a list of {table, what, why, until}")
    out = []
    for item in value:
        if isinstance(item, Retained):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise TypeError("a list of {table, what, why, until}")
        until = item.get("until")
        out.append(
            Retained(
                table=str(item.get("table") or ""),
                what=_text(item.get("what", "")),
                why=_text(item.get("why", "")),
                until=_date(until) if until else None,
            )
        )
    return out


_KINDS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "date": _date,
    "datetime": _datetime,
    "texts": _texts,
    "retained": _retained,
    "count": _count,
}

#: Every template's context keys and their kinds (`case_ref` is added by `compose`).
CONTEXT_KEYS: dict[str, dict[str, str]] = {
    "acknowledgement": {"intents": "texts", "due_date": "date"},
    # `requester` (an address, or None for "this address") and `asks` (mappings) pass as given.
    "challenge": {"code": "text", "expires_at": "datetime", "asked_on": "date"},
    "challenge_new_address": {"code": "text", "expires_at": "datetime", "asked_on": "date"},
    "rejected": {"reason": "text"},
    # `portable` and `asked_recipients` (booleans) pass as given.
    "access_package": {"shared_with": "texts"},
    "change_done": {"fields": "texts", "recipients_told": "texts", "recipients_by_hand": "texts"},
    # `desk_purged`: earlier requests whose records the desk erased with this one; `desk_purge_on`:
    # when this request's own messages and addresses go (its close plus DSR_CASE_RETENTION).
    "delete_done": {
        "retained": "retained",
        "recipients_told": "texts",
        "recipients_by_hand": "texts",
        "desk_purged": "count",
        "desk_purge_on": "date",
    },
    "concern_ack": {"authority_name": "text", "authority_url": "text"},
    "unsubscribe_done": {},
    "expired": {},
    "processor_redirect": {"reseller": "text", "forwarded": "text"},
    "extension": {"new_due_date": "date", "reason": "text"},
    "not_found": {},
    "verification_failed": {},
    "objection_done": {},
    "restriction_done": {
        "purposes": "texts",
        "recipients_told": "texts",
        "recipients_by_hand": "texts",
    },
    "restriction_lifting": {},
    "representative_needed": {},
    "request_joined": {"received_on": "date", "due_date": "date"},
    # To recipients and controllers (Art. 19, processor data): only the identifiers they hold.
    "recipient_erasure": {"recipient": "text", "identifiers": "texts"},
    "recipient_rectification": {"recipient": "text", "identifiers": "texts", "fields": "texts"},
    "recipient_restriction": {"recipient": "text", "identifiers": "texts"},
    "processor_request": {"recipient": "text", "identifiers": "texts", "intents": "texts"},
}


def typed_context(template: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The context with each declared key turned into its kind; other keys pass unchanged.

    Missing keys are left out here (rendering then names them, with StrictUndefined).

    Raises:
        TemplateError: a value cannot be read as its key's kind.
    """
    out = dict(raw)
    for key, kind in CONTEXT_KEYS.get(template, {}).items():
        if key not in out:
            continue
        try:
            out[key] = _KINDS[kind](out[key])
        except (TypeError, ValueError) as exc:
            raise TemplateError(
                f"template {template}: {key} must be {exc if isinstance(exc, TypeError) else kind}"
                f", got {type(out[key]).__name__}"
            ) from None
    return out
