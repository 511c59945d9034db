"""A fake Slack Web API on a free loopback port (aiohttp), recording every call.

Speaks what dsr-bot uses: auth.test, chat.postMessage/update/postEphemeral, views.open/publish,
users.info (GET), usergroups.users.list, apps.connections.open plus a WebSocket for Socket Mode,
and `response_url` posts. `fail(status, times, retry_after)` answers 429/5xx for a while.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from tests.agent_harness import open_test_desk


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake received it."""

    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class FakeSlack:
    """State of the fake; `url` is the Web API base (with trailing slash)."""

    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    group_members: dict[str, list[str]] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # method -> Slack error code (HTTP 200)
    port: int = 0
    _fail: list[tuple[int, int]] = field(default_factory=list)  # (status, retry_after)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _socket: web.WebSocketResponse | None = None
    _socket_open: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The Web API base URL for `AsyncWebClient(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A `response_url` that records what is posted to it."""
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def fail(self, status: int, times: int, retry_after: int = 0) -> None:
        """Answer the next `times` API calls with `status` (429 carries Retry-After)."""
        self._fail.extend([(status, retry_after)] * times)

    def named(self, method: str) -> list[Call]:
        """The recorded calls of one method, oldest first."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, wait: float = 5.0) -> list[Call]:
        """Wait until `method` was called `count` times; returns those calls."""
        async with asyncio.timeout(wait), self._changed:
            await self._changed.wait_for(lambda: len(self.named(method)) >= count)
        return self.named(method)

    async def wait_responses(self, count: int = 1, wait: float = 5.0) -> list[dict[str, Any]]:
        """Wait until `count` bodies were posted to response URLs."""
        async with asyncio.timeout(wait), self._changed:
            await self._changed.wait_for(lambda: len(self.responses) >= count)
        return self.responses

    async def send_envelope(self, envelope: dict[str, Any], wait: float = 5.0) -> None:
        """Push one Socket Mode envelope to the connected client and wait for its ack."""
        async with asyncio.timeout(wait):
            await self._socket_open.wait()
        assert self._socket is not None
        await self._socket.send_str(json.dumps(envelope))
        async with asyncio.timeout(wait), self._changed:
            await self._changed.wait_for(
                lambda: any(a.get("envelope_id") == envelope["envelope_id"] for a in self.acks)
            )

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        call = Call(method, params, auth.removeprefix("Bearer ") or None)
        await self._record(call)
        if self._fail:
            status, retry_after = self._fail.pop(0)
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            body = {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"}
            return web.json_response(body, status=status, headers=headers)
        if method in self.errors:
            return web.json_response({"ok": False, "error": self.errors[method]})
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT", "team": "t"}
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            self.messages[(str(p["channel"]), ts)] = dict(p)
            return {"ok": True, "channel": p["channel"], "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            key = (str(p["channel"]), str(p["ts"]))
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key] = dict(p)
            return {"ok": True, "channel": p["channel"], "ts": p["ts"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
        if method in {"views.open", "views.publish", "views.update"}:
            view = p["view"] if isinstance(p["view"], dict) else json.loads(p["view"])
            return {"ok": True, "view": {"id": "V1", **view}}
        if method == "users.info":
            return {"ok": True, "user": {"id": p.get("user"), "name": "someone"}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.group_members.get(str(p.get("usergroup")), [])}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._changed:
            self.responses.append(body)
            self._changed.notify_all()
        return web.Response(text="ok")

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._socket = ws
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket_open.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                async with self._changed:
                    self.acks.append(json.loads(msg.data))
                    self._changed.notify_all()
        self._socket_open.clear()
        return ws

    async def start(self) -> None:
        """Serve on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving (closes a Socket Mode connection too)."""
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A fresh fake Slack Web API for one test."""
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.close()


# --- A whole desk wired to the fake: signed HTTP requests in, Web API calls out -------------

SECRET = "test-signing-secret-0123456789"
APPROVERS = ("UAPP1", "UAPP2")
CHANNEL, INTAKE = "CPRIV", "CINTAKE"
CUSTOMERS = [
    {
        "username": "jane",
        "email": "jane@example.com",
        "name": "Jane Doe",
        "company": None,
        "phone": "+31 20 123 4567",
        "street": "Damrak 1",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
        "newsletter": True,
    },
    {
        "username": "piet",
        "email": "piet@example.org",
        "name": "Piet Jansen",
        "company": "Jansen BV",
        "phone": "+31 30 765 4321",
        "street": "Oudegracht 2",
        "postal_code": "3511 AB",
        "city": "Utrecht",
        "country": "NL",
        "newsletter": False,
    },
]


def sign(body: str, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    """Headers Slack would send with `body` (signed with `secret` at `ts`)."""
    import hashlib
    import hmac
    import time

    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


@dataclass
class SlackRig:
    """A desk (case store, customer store, model) with its Slack side mounted on a real
    aiohttp server, talking to `fake`."""

    desk: Any
    fake: FakeSlack
    parts: Any
    base: str
    http: Any
    runner: web.AppRunner

    async def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
    ) -> int:
        """POST `body` to /slack/events with `headers` (default: correctly signed)."""
        sent = {"Content-Type": content_type, **(headers if headers is not None else sign(body))}
        async with self.http.post(self.base + "/slack/events", data=body, headers=sent) as r:
            await r.read()
            return int(r.status)

    @staticmethod
    def form(payload: dict[str, Any]) -> str:
        """An interactivity body: `payload=<urlquoted json>`."""
        from urllib.parse import urlencode

        return urlencode({"payload": json.dumps(payload)})

    def click_payload(self, user: str, action_id: str, ref: str, **action: Any) -> dict[str, Any]:
        """A block_actions payload for a button (or select) on the card of `ref`."""
        return {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T1"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "token": "legacy",
            "trigger_id": f"trig-{action_id}",
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.1"},
            "response_url": self.fake.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": f"case:{ref}",
                    "value": ref,
                    "action_ts": "1.2",
                    **action,
                }
            ],
        }

    async def click(self, user: str, action_id: str, ref: str, **action: Any) -> int:
        """Click a card button as `user`; returns the HTTP status."""
        return await self.post(self.form(self.click_payload(user, action_id, ref, **action)))

    async def submit(
        self, user: str, callback_id: str, ref: str | None, values: dict[str, Any]
    ) -> int:
        """Submit a modal as `user` with input `values` ({block: {"value": element state}})."""
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": "T1"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "token": "legacy",
            "trigger_id": "trig-submit",
            "view": {
                "id": f"V-{callback_id}",
                "hash": "h1",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": json.dumps({"ref": ref, "channel": CHANNEL}),
                "state": {"values": values},
            },
        }
        return await self.post(self.form(payload))

    async def event(self, event: dict[str, Any]) -> int:
        """An Events API callback carrying `event`."""
        body = {
            "type": "event_callback",
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "event_id": f"Ev{event.get('ts', '1')}",
            "event_time": 1,
            "event": event,
        }
        return await self.post(json.dumps(body), content_type="application/json")

    async def command(self, user: str, text: str, channel: str = CHANNEL) -> int:
        """`/dsr <text>` typed by `user`."""
        from urllib.parse import urlencode

        body = urlencode(
            {
                "command": "/dsr",
                "text": text,
                "user_id": user,
                "channel_id": channel,
                "team_id": "T1",
                "api_app_id": "A1",
                "token": "legacy",
                "trigger_id": "trig-cmd",
                "response_url": self.fake.response_url("cmd"),
            }
        )
        return await self.post(body)

    async def case(self, ref: str) -> Any:
        """The case as stored now."""
        from bot.case.store import get_case

        async with self.desk.sessions() as session:
            return await get_case(session, ref)

    async def audits(self, action: str | None = None) -> list[Any]:
        """Audit events (optionally of one action), oldest first."""
        from sqlmodel import select

        from storage.audit import AuditEvent

        async with self.desk.sessions() as session:
            stmt = select(AuditEvent).order_by(AuditEvent.seq)  # type: ignore[arg-type]
            events = list((await session.exec(stmt)).all())
        return [e for e in events if action is None or e.action == action]

    async def staff_case(self, intents: list[str], address: str = "jane@example.com") -> str:
        """Open a case through staff intake and let the pipeline route it once."""
        from bot.slack.intake import open_staff_case
        from bot.work.pipeline import advance_due

        opened = await open_staff_case(
            self.desk,
            actor="slack:UAPP1",
            source=f"test:{uuid.uuid4()}",
            text=f"{address} called about their data",
            address=address,
            intents=intents,
        )
        await advance_due(self.desk)
        return opened.ref

    async def send_outbox(self) -> int:
        """Send the pending Slack rows once (mail rows stay)."""
        from bot.work.outbox import OutboxWorker

        worker = OutboxWorker(
            engine=self.desk.engine, dispatch={"slack": self.parts.dispatch}, worker_id="t"
        )
        return await worker.run_once()


async def build_rig(
    case_store_url: str,
    fake: FakeSlack,
    model: Any,
    tmp: Path,
    *,
    four_eyes: bool = False,
    app_token: str | None = None,
    **overrides: Any,
) -> SlackRig:
    """A desk on `case_store_url` (migrated) with a fresh customer store in `tmp`, and its
    Slack side mounted on a real aiohttp server on a free port, talking to `fake`."""
    import aiohttp

    from bot.http import build_app
    from bot.settings import Settings
    from bot.slack.http import install_slack

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=case_store_url,
        customer_database_url=f"sqlite+aiosqlite:///{tmp / 'customers.db'}",
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_app_token=app_token,
        slack_api_url=fake.url,
        slack_channel=CHANNEL,
        slack_intake_channel=INTAKE,
        slack_approvers=",".join(APPROVERS),
        four_eyes_delete=four_eyes,
        **overrides,
    )
    desk = await open_test_desk(settings, model, tmp, CUSTOMERS)

    async def healthy() -> bool:
        return True

    web_app = build_app(healthy)
    parts = install_slack(desk, web_app)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    http = aiohttp.ClientSession()
    return SlackRig(desk, fake, parts, f"http://127.0.0.1:{port}", http, runner)


@pytest.fixture
async def slack_rig_factory(
    case_store_url: str,
    fake_slack: FakeSlack,
    intent_model: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Any]:
    """`await make(four_eyes=False, app_token=None, **settings)` builds a `SlackRig`."""
    opened: list[SlackRig] = []

    async def make(**options: Any) -> SlackRig:
        tmp = tmp_path_factory.mktemp("slack")
        rig = await build_rig(case_store_url, fake_slack, intent_model, tmp, **options)
        opened.append(rig)
        return rig

    yield make
    for rig in opened:
        await close_rig(rig)


@pytest.fixture
async def slack_rig(slack_rig_factory: Any) -> SlackRig:
    """A rig with the default policy (one approver per case)."""
    rig: SlackRig = await slack_rig_factory()
    return rig


async def close_rig(rig: SlackRig) -> None:
    """Stop the rig's server and dispose its engines."""
    await rig.http.close()
    await rig.runner.cleanup()
    await rig.desk.engine.dispose()
    await rig.desk.executor.engine.dispose()
