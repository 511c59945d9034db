"""The auditors' pages under /audit: cases with filters and pages, a case's timeline, its
receipt, the chain's status and anchors, and CSV/JSONL exports of the events. Read-only,
server-rendered with Jinja (autoescaped), no scripts.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.case import store
from bot.case.lifecycle import is_open
from bot.web.auth import COOKIE, LOGIN, guard, session_value
from bot.work.desk import Desk
from storage import audit
from storage.anchors import read_heads
from storage.models import Case, CaseState, parse_reference

PAGE_SIZE = 50
_DESK: web.AppKey[Desk] = web.AppKey("audit_desk")
_CHAIN: web.AppKey[dict[str, Any]] = web.AppKey("audit_chain_cache")
_ENV = Environment(
    loader=PackageLoader("bot.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


def render(name: str, status: int = 200, **context: Any) -> web.Response:
    """A page from bot/web/templates (autoescaped)."""
    html = _ENV.get_template(name).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


class BadFilter(ValueError):
    """A filter value that cannot be read (answered with 400, naming it)."""


def _date(query: Mapping[str, str], name: str) -> date | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name} must be a date like 2026-01-31") from None


def parse_filter(query: Mapping[str, str], today: date) -> store.CaseFilter:
    """The case list's filters from the query string.

    Raises:
        BadFilter: an unknown state or a malformed date.
    """
    state = query.get("state", "").strip() or None
    if state is not None and state not in set(CaseState):
        raise BadFilter(f"state must be one of {', '.join(CaseState)}")
    return store.CaseFilter(
        state=CaseState(state) if state else None,
        intent=query.get("intent", "").strip() or None,
        channel=query.get("channel", "").strip() or None,
        language=query.get("language", "").strip() or None,
        received_from=_date(query, "from"),
        received_until=_date(query, "until"),
        overdue_on=today if query.get("overdue") == "1" else None,
    )


@dataclass(frozen=True)
class CaseRow:
    """What the case list shows of a case: reference, state, dates; no personal data."""

    reference: str
    state: str
    intents: str
    channel: str
    language: str
    received: str
    due: str
    closed: str
    extended: bool
    overdue: bool


def case_row(case: Case, today: date) -> CaseRow:
    """The list's view of one case."""
    return CaseRow(
        reference=case.reference,
        state=str(case.state),
        intents=", ".join(case.intents) or "-",
        channel=case.channel,
        language=case.language or "?",
        received=case.received_at.strftime("%Y-%m-%d %H:%M"),
        due=case.effective_due.isoformat(),
        closed=case.closed_at.strftime("%Y-%m-%d") if case.closed_at else "",
        extended=case.extended_to is not None,
        overdue=is_open(case.state) and case.effective_due < today,
    )


async def cases_page(request: web.Request) -> web.Response:
    """GET /audit/ and /audit/cases: the filtered, paginated case list."""
    desk = request.app[_DESK]
    today = datetime.now(UTC).date()
    try:
        filters = parse_filter(request.query, today)
        page = max(1, int(request.query.get("page", "1") or 1))
    except (BadFilter, ValueError) as exc:
        return render("error.html.j2", status=400, message=str(exc))
    started = time.perf_counter()
    async with desk.sessions() as session:
        cases, total = await store.page_cases(
            session, filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    kept = {k: v for k, v in request.query.items() if k != "page" and v}
    pages = max(1, -(-total // PAGE_SIZE))
    response = render(
        "cases.html.j2",
        rows=[case_row(c, today) for c in cases],
        total=total,
        page=page,
        pages=pages,
        query=kept,
        prev_url=f"?{urlencode({**kept, 'page': page - 1})}" if page > 1 else None,
        next_url=f"?{urlencode({**kept, 'page': page + 1})}" if page < pages else None,
        states=list(CaseState),
        export_query=urlencode(kept),
    )
    response.headers["Server-Timing"] = f"db;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


def _reference(request: web.Request) -> str:
    try:
        return f"DSR-{parse_reference(request.match_info['ref'])}"
    except ValueError:
        raise web.HTTPNotFound(text="no such case reference") from None


async def _case_and_events(desk: Desk, ref: str) -> tuple[Case, list[audit.AuditEvent]]:
    async with desk.sessions() as session:
        case = await store.get_case(session, ref)
    return case, [ev async for ev in audit.events(desk.engine, case_ref=ref)]


def _details(event: audit.AuditEvent) -> list[tuple[str, str]]:
    try:
        parsed = json.loads(event.details)
    except ValueError:
        return [("details", event.details)]
    return [
        (str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in parsed.items()
    ]


async def case_page(request: web.Request) -> web.Response:
    """GET /audit/cases/{ref}: every event of the case, with actor and time."""
    desk, ref = request.app[_DESK], _reference(request)
    try:
        case, events = await _case_and_events(desk, ref)
    except LookupError:
        return render("error.html.j2", status=404, message=f"no case {ref}")
    return render(
        "case.html.j2",
        case=case_row(case, datetime.now(UTC).date()),
        extension_reason=case.extension_reason or "",
        events=[(ev, _details(ev)) for ev in events],
    )


def case_digest(events: list[audit.AuditEvent]) -> str:
    """SHA-256 over the case's event hashes, in order, one per line: the receipt's fingerprint."""
    return hashlib.sha256("".join(f"{ev.hash}\n" for ev in events).encode()).hexdigest()


async def receipt_page(request: web.Request) -> web.Response:
    """GET /audit/cases/{ref}/receipt: what the customer could be given — the case's events by
    sequence and hash, their digest, and the first anchored head that covers them."""
    desk, ref = request.app[_DESK], _reference(request)
    try:
        case, events = await _case_and_events(desk, ref)
    except LookupError:
        return render("error.html.j2", status=404, message=f"no case {ref}")
    last = events[-1].seq if events else 0
    anchors = read_heads(desk.settings.audit_head_file, audit.current_key()).anchors
    covering = min((a for a in anchors if a.seq >= last), key=lambda a: a.seq, default=None)
    return render(
        "receipt.html.j2",
        case=case_row(case, datetime.now(UTC).date()),
        events=events,
        digest=case_digest(events),
        anchor=covering,
        anchor_hour=desk.settings.audit_anchor_hour,
    )


async def chain_page(request: web.Request) -> web.Response:
    """GET /audit/chain: the chain verified (cached a minute) against the head file."""
    desk = request.app[_DESK]
    cache = request.app[_CHAIN]
    heads = read_heads(desk.settings.audit_head_file, audit.current_key())
    if cache.get("at", 0.0) < time.monotonic() - 60:
        cache["result"] = await audit.verify(desk.engine, anchors=heads.anchors)
        cache["at"] = time.monotonic()
    result: audit.VerifyResult = cache["result"]
    return render(
        "chain.html.j2",
        result=result,
        anchors=sorted(heads.anchors, key=lambda a: a.seq, reverse=True)[:100],
        problems=heads.problems,
        head_file=desk.settings.audit_head_file.name,
    )


_EXPORT_COLUMNS = ["seq", "ts", "case_ref", "actor", "action", "details", "prev_hash", "hash"]


async def export(request: web.Request) -> web.StreamResponse:
    """GET /audit/export.csv and /audit/export.jsonl: events (with hashes), optionally one case
    (`case`) and a date window (`from`, `until`), streamed."""
    desk = request.app[_DESK]
    fmt = request.match_info["fmt"]
    case = request.query.get("case", "").strip() or None
    try:
        ref = f"DSR-{parse_reference(case)}" if case else None
        since, until = _date(request.query, "from"), _date(request.query, "until")
    except (BadFilter, ValueError) as exc:
        return render("error.html.j2", status=400, message=str(exc))
    name = f"audit-{ref or 'all'}.{fmt}"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/x-ndjson; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if fmt == "csv":
        writer.writerow(_EXPORT_COLUMNS)
    async for ev in audit.events(
        desk.engine,
        case_ref=ref,
        since=since.isoformat() if since else None,
        # `until` is inclusive: every stamp of that day ("…T23:59:59.999999Z") sorts below "…T99"
        until=(until.isoformat() + "T99") if until else None,
    ):
        if fmt == "csv":
            writer.writerow(
                [getattr(ev, c) if getattr(ev, c) is not None else "" for c in _EXPORT_COLUMNS]
            )
        else:
            row = ev.model_dump()
            row["details"] = json.loads(ev.details)
            buffer.write(audit.canonical_json(row) + "\n")
        if buffer.tell() > 64_000:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


async def login_form(request: web.Request) -> web.Response:
    """GET /audit/login: the token form (holds nothing else)."""
    return render("login.html.j2", error=None)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /audit/login: a right token sets the session cookie and goes to the case list."""
    desk = request.app[_DESK]
    token = desk.settings.audit_token
    form = await request.post()
    given = str(form.get("token", ""))
    if token is None or not authorised_token(given, token.get_secret_value()):
        return render("login.html.j2", status=401, error="That token is not right.")
    response = web.Response(status=303, headers={"Location": "/audit/"})
    response.set_cookie(
        COOKIE,
        session_value(token.get_secret_value()),
        path="/audit",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


def authorised_token(given: str, token: str) -> bool:
    """Constant-time comparison of a typed token."""
    return hmac.compare_digest(given.encode(), token.encode())


async def logout(request: web.Request) -> web.StreamResponse:
    """GET /audit/logout: forget the session cookie."""
    response = web.Response(status=303, headers={"Location": LOGIN})
    response.del_cookie(COOKIE, path="/audit")
    return response


def install_audit(app: web.Application, desk: Desk) -> None:
    """Mount the auditor pages on `app` (the desk's aiohttp server) behind DSR_AUDIT_TOKEN."""
    token = desk.settings.audit_token
    app.middlewares.append(guard(token.get_secret_value() if token else None))
    app[_DESK] = desk
    app[_CHAIN] = {}
    app.router.add_get("/audit", cases_page)
    app.router.add_get("/audit/", cases_page)
    app.router.add_get("/audit/cases", cases_page)
    app.router.add_get("/audit/cases/{ref}", case_page)
    app.router.add_get("/audit/cases/{ref}/receipt", receipt_page)
    app.router.add_get("/audit/chain", chain_page)
    app.router.add_get("/audit/export.{fmt:csv|jsonl}", export)
    app.router.add_get(LOGIN, login_form)
    app.router.add_post(LOGIN, login)
    app.router.add_get("/audit/logout", logout)
