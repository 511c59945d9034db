"""Daily anchoring: the head goes to the head file, the outbox (a Slack post and a mail to the
auditors) and the log itself; a broken chain is never anchored; the mail is readable back by
`dsr audit verify --anchors`."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.settings import load_settings
from bot.work.anchor import MAIL_KIND, anchor_now, audit_mail_dispatch, next_run
from bot.work.desk import Desk
from storage import audit
from storage.anchors import read_heads
from storage.db import create_engine, session_factory
from storage.errors import AuditChainError
from storage.models import Outbox
from tests.web_seed import seed

KEY = b"anchor-key-0123456789abcdef0123456"


def _desk(url: str, tmp_path: Path) -> Desk:
    settings = load_settings(
        database_url=url,
        audit_key=KEY.decode(),
        audit_head_file=tmp_path / "heads.jsonl",
        auditor_address="auditors@example.org",
        audit_anchor_channel="C0AUDIT",
        slack_bot_token="xoxb-test",
        slack_signing_secret="s" * 32,
        slack_channel="C0DESK",
        slack_approvers="U0STAFF",
    )
    engine = create_engine(url)
    return Desk(settings, engine, session_factory(engine), None, None, b"k" * 32)  # type: ignore[arg-type]


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, msg: EmailMessage) -> None:
        self.sent.append(msg)


async def test_anchor_goes_to_file_outbox_and_log(case_store_url: str, tmp_path: Path) -> None:
    desk = _desk(case_store_url, tmp_path)
    token = audit.use_key(KEY)
    try:
        await seed(desk.engine, 5, key=KEY)
        anchor = await anchor_now(desk)
        assert anchor is not None
        heads = read_heads(tmp_path / "heads.jsonl", KEY)
        assert [(a.seq, a.hash) for a in heads.anchors] == [(anchor.seq, anchor.hash)]
        async with desk.sessions() as s:
            rows = list((await s.exec(select(Outbox))).all())
        assert sorted(r.kind for r in rows) == [MAIL_KIND, "slack"]
        slack = next(r for r in rows if r.kind == "slack")
        assert slack.template == "audit_anchor" and slack.payload["channel"] == "C0AUDIT"
        mail = next(r for r in rows if r.kind == MAIL_KIND)
        recorder = _Recorder()
        await audit_mail_dispatch(recorder, "privacy@example.com", "example.com")(mail)
        body = recorder.sent[0].get_content()
        assert recorder.sent[0]["To"] == "auditors@example.org"
        assert f"{anchor.seq}:{anchor.hash}" in body
        saved = tmp_path / "mail.txt"
        saved.write_text(recorder.sent[0].as_string())
        assert [a.seq for a in read_heads(saved, None).anchors] == [anchor.seq]
        result = await audit.verify(desk.engine, anchors=heads.anchors)
        assert result.ok and result.last_seq == anchor.seq + 1  # the anchoring event itself
        async with desk.engine.connect() as conn:
            action = (
                await conn.execute(text("SELECT action FROM audit_event ORDER BY seq DESC"))
            ).scalar()
        assert action == "audit_head_anchored"
    finally:
        audit.reset_key(token)
        await desk.engine.dispose()


async def test_a_broken_chain_is_not_anchored(case_store_url: str, tmp_path: Path) -> None:
    desk = _desk(case_store_url, tmp_path)
    token = audit.use_key(KEY)
    try:
        await seed(desk.engine, 3, key=None)  # a plain chain ...
        async with desk.engine.begin() as conn:  # ... whose tail an insider cut
            if conn.dialect.name == "sqlite":
                await conn.execute(text("DROP TRIGGER audit_event_no_delete"))
            else:
                await conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            await conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
        with pytest.raises(AuditChainError, match="missing event"):
            await anchor_now(desk)
        assert not (tmp_path / "heads.jsonl").exists()
    finally:
        audit.reset_key(token)
        await desk.engine.dispose()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 4, 1, 0, tzinfo=UTC), datetime(2026, 12, 4, 2, 0, tzinfo=UTC)),
        (datetime(2026, 12, 4, 2, 0, tzinfo=UTC), datetime(2026, 12, 5, 2, 0, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, 2, 0, tzinfo=UTC)),
    ],
    ids=["later-today", "exactly-now", "year-end"],
)
def test_next_run(now: datetime, expected: datetime) -> None:
    assert next_run(now, 2) == expected


async def test_slack_anchor_post_goes_to_the_auditors_channel(slack_rig_factory: Any) -> None:
    from bot.case import store
    from bot.case.messages import slack_item

    rig = await slack_rig_factory(audit_anchor_channel="C0AUDIT")
    digest = "ab" * 32
    async with rig.desk.sessions() as session, session.begin():
        item = slack_item("audit_anchor", channel="C0AUDIT", seq=5, hash=digest, ts="t")
        await store.add_outbox(session, None, [item], domain="example.com")
    assert await rig.send_outbox() == 1
    (post,) = rig.fake.named("chat.postMessage")
    assert post.params["channel"] == "C0AUDIT" and f"5:{digest}" in post.params["text"]
