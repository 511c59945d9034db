"""The bot's HTTP server (aiohttp): health now; Slack events and auditor pages mount here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

HealthCheck = Callable[[], Awaitable[bool]]
_HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")


async def _healthz(request: web.Request) -> web.Response:
    check = request.app[_HEALTH]
    ok = await check()
    return web.json_response({"ok": bool(ok)}, status=200 if ok else 503)


def build_app(health: HealthCheck) -> web.Application:
    """The aiohttp application with `GET /healthz`; callers add more routes or sub-apps."""
    app = web.Application()
    app[_HEALTH] = health
    app.router.add_get("/healthz", _healthz)
    return app


async def serve(
    app: web.Application,
    host: str,
    port: int,
    started: asyncio.Event | None = None,
    bound: list[int] | None = None,
) -> None:
    """Serve `app` until cancelled; `bound` receives the actual port (useful with port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
        if bound is not None:
            bound.append(int(runner.addresses[0][1]))
        if started is not None:
            started.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
