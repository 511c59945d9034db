"""Who may read /audit: a request carrying DSR_AUDIT_TOKEN as a bearer token, as the password of
HTTP basic auth (any user name), or the session cookie the login form sets. Nothing else is
served under /audit but the login form itself."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

PREFIX = "/audit"
LOGIN = "/audit/login"
COOKIE = "dsr_audit"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def session_value(token: str) -> str:
    """The cookie value: derived from the token, so the token itself never sits in a cookie."""
    return hmac.new(token.encode(), b"dsr-bot audit session", hashlib.sha256).hexdigest()


def presented_token(request: web.Request) -> str | None:
    """The token in the Authorization header (Bearer, or Basic's password), if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def authorised(request: web.Request, token: str) -> bool:
    """True when the request carries the token (header) or a valid session cookie."""
    given = presented_token(request)
    if given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, session_value(token))


def guard(token: str | None) -> Middleware:
    """Middleware: under /audit, only the login form without the token; security headers on
    every /audit response. Without DSR_AUDIT_TOKEN the pages are off (403)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
            return await handler(request)
        if token is None:
            response: web.StreamResponse = web.Response(
                status=403, text="auditor pages are off: set DSR_AUDIT_TOKEN to turn them on\n"
            )
        elif request.path == LOGIN or authorised(request, token):
            response = await handler(request)
        elif "text/html" in request.headers.get("Accept", "") and request.method == "GET":
            response = web.Response(status=302, headers={"Location": LOGIN})
        else:
            response = web.Response(
                status=401,
                text="the auditor token is needed (Authorization: Bearer, or basic auth)\n",
                headers={"WWW-Authenticate": 'Basic realm="dsr-bot audit", charset="UTF-8"'},
            )
        response.headers.update(SECURITY_HEADERS)
        return response

    return middleware
