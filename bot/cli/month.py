"""`dsr report --month YYYY-MM --out FILE`: the month at a glance, as one self-contained HTML file
with inline SVG charts (pygal; its script stripped, so the file loads nothing and runs nothing)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pygal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pygal.style import Style

from bot.case import store
from bot.case.report import CLOSE_BUCKETS, MonthEvents, MonthReport, summarise_month
from bot.errors import SettingsError
from storage import audit
from storage.anchors import read_heads
from storage.db import create_engine, session_factory
from storage.migrate import check_current

# pygal appends a legacy finder to sys.meta_path (for `pygal.maps.*` plugins, unused here) that
# has no find_spec: every later failed import then warns. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#777",
    colors=("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030"),
    font_family="system-ui, sans-serif",
)
_ENV = Environment(
    loader=PackageLoader("bot.cli", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


def month_bounds(month: str) -> tuple[date, date]:
    """First day of `month` (YYYY-MM) and of the month after.

    Raises:
        SettingsError: not a month like 2026-11.
    """
    try:
        start = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise SettingsError(f"--month must look like 2026-11; got {month!r}") from None
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


@dataclass(frozen=True)
class ChainState:
    """The chain as the report shows it: verified or not, the head, the last anchor."""

    result: audit.VerifyResult
    last_anchor: audit.Anchor | None


async def load_month(url: str, month: str, head_file: Path) -> tuple[MonthReport, ChainState]:
    """Read the month's cases and events and verify the chain (against the head file)."""
    start, end = month_bounds(month)
    await check_current(url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            cases = await store.cases_received_between(session, start, end)
        since, until = start.isoformat(), end.isoformat()
        actions = await audit.action_counts(engine, since=since, until=until)
        reasons: dict[str, int] = {}
        async for details in audit.details_of(engine, "case_reject", since=since, until=until):
            reason = str(details.get("reason") or "no reason given")
            reasons[reason] = reasons.get(reason, 0) + 1
        heads = read_heads(head_file, audit.current_key())
        result = await audit.verify(engine, anchors=heads.anchors)
    finally:
        await engine.dispose()
    report = summarise_month(month, cases, MonthEvents(actions, reasons), datetime.now(UTC).date())
    last = max(heads.anchors, key=lambda a: a.seq, default=None)
    return report, ChainState(result, last)


def _svg(chart: pygal.Graph) -> Markup:
    svg = chart.render(is_unicode=True)
    return Markup(_SCRIPT.sub("", svg))  # noqa: S704 (pygal's own SVG; labels escaped by etree)


def _bars(title: str, counts: dict[str, int], *, horizontal: bool = True) -> Markup:
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = kind(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        style=_STYLE,
        width=520,
        height=max(160, 40 + 28 * len(counts)) if horizontal else 300,
        title=title,
        print_values=True,
    )
    chart.x_labels = list(counts) or ["none"]
    chart.add(title, list(counts.values()) or [0])
    return _svg(chart)


def _close_chart(report: MonthReport) -> Markup:
    chart = pygal.Bar(
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        style=_STYLE,
        width=520,
        height=300,
        title="Days to close (the deadline is one month)",
        x_title="days from receipt to close",
        print_values=True,
    )
    chart.x_labels = [name for name, _, _ in CLOSE_BUCKETS]
    chart.add(
        "closed",
        [
            {"value": report.close_buckets[name], "color": "#c53030" if low > 31 else "#2f855a"}
            for name, low, _ in CLOSE_BUCKETS
        ],
    )
    return _svg(chart)


def render_month(report: MonthReport, chain: ChainState) -> str:
    """The HTML file's text."""
    return _ENV.get_template("month.html.j2").render(
        r=report,
        chain=chain,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        charts={
            "intent": _bars("Requests by intent", report.by_intent),
            "channel": _bars("Requests by channel", report.by_channel),
            "language": _bars("Requests by language", report.by_language),
            "close": _close_chart(report),
            "verification": _bars("Verification outcomes", report.verification),
            "reasons": _bars("Rejections by reason", report.reject_reasons),
        },
    )
