"""The desk: everything the pipeline stages share, built once from settings and passed down."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case.policy import Policy
from bot.case.verify import address_key
from bot.settings import Settings
from storage.customer import Executor
from storage.pseudonym import pseudonym

if TYPE_CHECKING:  # the model's module imports spaCy; commands without it never load it
    from bot.work.instance import Instance
    from intents.classify import IntentModel


@dataclass
class Desk:
    """Shared state of one `dsr run` process (or one CLI call)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    executor: Executor
    model: IntentModel | None  # None for staff commands, which classify nothing
    key: bytes
    policy: Policy = field(default_factory=Policy)
    packages_dir: Path = Path("var/packages")
    # Set when intake recorded new messages, so stage two starts without waiting for a poll.
    inbound_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # `dsr run`'s desk instance: names its claims and knows whose claims may be taken over.
    instance: Instance | None = None

    @property
    def slack_enabled(self) -> bool:
        """True when Slack cards should be written to the outbox."""
        return self.settings.slack_bot_token is not None

    def classifier(self) -> IntentModel:
        """The intent model (a desk opened without it cannot classify)."""
        if self.model is None:
            raise RuntimeError("this desk was opened without the classifier (with_model=False)")
        return self.model

    def pseudonym(self, identity: str) -> str:
        """The keyed pseudonym of an identity (for the audit log and comparisons)."""
        return pseudonym(self.key, identity)

    def address_key(self, address: str) -> str:
        """The keyed form of an exact address, for the challenge sender check (the local part
        lower-cased only when the data map says `email_match: casefold`)."""
        return address_key(self.key, address, casefold_local=self.executor.datamap.casefold_email)

    def customer_actor(self, address: str | None) -> str:
        """`customer:<pseudonym>` for audit events caused by a customer."""
        return f"customer:{self.pseudonym(address)}" if address else "customer:unknown"
