"""Who may act in Slack, and how an action is run for them: approver check (user ids or a user
group), audited refusals, `bot.work.actions` errors turned into audited ephemeral answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DsrError, NotAuthorized
from bot.slack.views import ephemeral_text
from bot.work.actions import ActionResult, check_approver
from bot.work.desk import Desk
from storage import audit
from storage.errors import StorageError
from storage.models import parse_reference

log = logging.getLogger(__name__)

REFUSAL = "Only the privacy team's approvers may do that. This attempt was recorded."


def case_ref_or_none(value: str | None) -> str | None:
    """`DSR-n` when `value` is a case reference, else None (values come from Slack payloads)."""
    try:
        return f"DSR-{parse_reference(value or '')}"
    except ValueError:
        return None


@dataclass
class Staff:
    """What the Slack listeners share: the desk and the Web API client."""

    desk: Desk
    client: AsyncWebClient

    async def is_approver(self, user: str) -> bool:
        """True when `user` is in DSR_SLACK_APPROVERS or in DSR_SLACK_APPROVER_GROUP."""
        groups: frozenset[str] = frozenset()
        group = self.desk.settings.slack_approver_group
        if group and user not in self.desk.settings.approvers:
            try:
                resp = await self.client.usergroups_users_list(usergroup=group)
                if user in (resp.get("users") or []):
                    groups = frozenset({group})
            except Exception as exc:  # Slack unreachable: nobody outside the list may act
                log.warning("approver group lookup failed: %s", type(exc).__name__)
        try:
            check_approver(self.desk, user, groups)
        except NotAuthorized:
            return False
        return True

    async def audit_refusal(self, user: str, ref: str | None, attempted: str, why: str) -> None:
        """Write `action_refused` for `slack:<user>` (no personal data)."""
        async with self.desk.sessions() as session, session.begin():
            await audit.append(
                session,
                action="action_refused",
                actor=f"slack:{user}"[:128],
                case_ref=case_ref_or_none(ref),
                details={"attempted": attempted[:40], "why": why[:80]},
            )
        log.info("slack %s refused for %s: %s", attempted, case_ref_or_none(ref), why)

    async def tell(self, user: str, channel: str | None, text: str) -> None:
        """An ephemeral answer in `channel` (or a direct message); failures are only logged."""
        try:
            if channel:
                await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            else:
                await self.client.chat_postMessage(channel=user, text=text)
        except Exception as exc:  # the action itself is done and audited; the answer is a nicety
            log.warning("could not answer a Slack user: %s", type(exc).__name__)

    async def gate(self, user: str, channel: str | None, ref: str | None, attempted: str) -> bool:
        """True when `user` may act; otherwise the refusal is audited and told, and False."""
        if await self.is_approver(user):
            return True
        await self.audit_refusal(user, ref, attempted, "not_an_approver")
        await self.tell(user, channel, REFUSAL)
        return False

    async def act(
        self,
        user: str,
        channel: str | None,
        ref: str | None,
        attempted: str,
        run: Callable[[str, str], Awaitable[ActionResult]],
    ) -> ActionResult | None:
        """Check the user, run `run(ref, actor)` and tell the outcome; errors are audited.

        Returns:
            The action's result, or None when refused or failed.
        """
        if not await self.gate(user, channel, ref, attempted):
            return None
        case_ref = case_ref_or_none(ref)
        if case_ref is None:
            await self.audit_refusal(user, None, attempted, "no_case_reference")
            await self.tell(user, channel, "That does not name a case (expected DSR-123).")
            return None
        try:
            result = await run(case_ref, f"slack:{user}")
        except (DsrError, StorageError) as exc:
            await self.audit_refusal(user, case_ref, attempted, type(exc).__name__)
            await self.tell(user, channel, ephemeral_text(f"Not done: {exc}"))
            return None
        await self.tell(user, channel, ephemeral_text(result.message))
        return result
