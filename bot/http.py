"""The bot's HTTP server (aiohttp): `/healthz` (database, IMAP, SMTP, Slack), `/readyz` (start-up
done); Slack events, the auditor pages (`bot.web`) and `/metrics` mount here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

HealthCheck = Callable[[], Awaitable[bool]]
#: a component check: (healthy, a short word on why; never a secret or an address)
Probe = Callable[[], Awaitable[tuple[bool, str]]]
_HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")
_PROBES: web.AppKey[dict[str, Probe]] = web.AppKey("probes")
_READY: web.AppKey[asyncio.Event] = web.AppKey("ready")
_CACHE: web.AppKey[dict[str, tuple[float, bool, str]]] = web.AppKey("probe_cache")
PROBE_TIMEOUT = 5.0
PROBE_CACHE_SECONDS = 10.0


async def _run_probe(name: str, probe: Probe, cache: dict[str, tuple[float, bool, str]]) -> Any:
    hit = cache.get(name)
    if hit is not None and hit[0] > time.monotonic() - PROBE_CACHE_SECONDS:
        return hit[1], hit[2]
    try:
        ok, detail = await asyncio.wait_for(probe(), PROBE_TIMEOUT)
    except TimeoutError:
        ok, detail = False, f"no answer within {PROBE_TIMEOUT:.0f} s"
    cache[name] = (time.monotonic(), ok, detail)
    return ok, detail


async def _healthz(request: web.Request) -> web.Response:
    ok = bool(await request.app[_HEALTH]())
    checks: dict[str, dict[str, object]] = {"database": {"ok": ok}}
    probes = request.app[_PROBES]
    cache = request.app[_CACHE]
    results = await asyncio.gather(*(_run_probe(n, p, cache) for n, p in probes.items()))
    for name, (good, detail) in zip(probes, results, strict=True):
        checks[name] = {"ok": good, "detail": detail}
        ok = ok and good
    return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)


async def _readyz(request: web.Request) -> web.Response:
    ready = request.app[_READY].is_set()
    return web.json_response({"ready": ready}, status=200 if ready else 503)


def build_app(health: HealthCheck, probes: Mapping[str, Probe] | None = None) -> web.Application:
    """The aiohttp application with `GET /healthz` and `GET /readyz`; callers add more routes or
    sub-apps. `health` checks the database; `probes` the other components (IMAP, SMTP, Slack)."""
    app = web.Application()
    app[_HEALTH] = health
    app[_PROBES] = dict(probes or {})
    app[_READY] = asyncio.Event()
    app[_CACHE] = {}
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


def add_probe(app: web.Application, name: str, probe: Probe) -> None:
    """Add a component to `/healthz` (before the server starts)."""
    app[_PROBES][name] = probe


def mark_ready(app: web.Application) -> None:
    """`/readyz` answers 200 from now on."""
    app[_READY].set()


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
