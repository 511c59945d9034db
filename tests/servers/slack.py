"""A fake Slack Web API on a free loopback port (aiohttp), recording every call.

Speaks what dsr-bot uses: auth.test, chat.postMessage/update/postEphemeral, views.open/publish,
users.info (GET), usergroups.users.list, apps.connections.open plus a WebSocket for Socket Mode,
and `response_url` posts. `fail(status, times, retry_after)` answers 429/5xx for a while.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web


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
