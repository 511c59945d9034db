"""The operators' Prometheus metrics at /metrics: read from the case store at each scrape into a
fresh registry (no global state, nothing kept between scrapes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bot.case import store
from bot.work.desk import Desk
from storage import audit
from storage.models import CaseState

CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
_DESK: web.AppKey[Desk] = web.AppKey("metrics_desk")


class _Snapshot(Collector):
    """One scrape's figures as metric families."""

    def __init__(self, gauges: store.DeskGauges, refusals: int, now: datetime) -> None:
        self.gauges, self.refusals, self.now = gauges, refusals, now

    def _age(self, then: datetime | None) -> float:
        return (self.now - then).total_seconds() if then is not None else 0.0

    def collect(self) -> Iterator[Metric]:
        g = self.gauges
        cases = GaugeMetricFamily("dsr_cases", "Cases by state.", labels=["state"])
        for state in CaseState:
            cases.add_metric([state.value], g.cases_by_state.get(state.value, 0))
        yield cases
        backlog = GaugeMetricFamily(
            "dsr_outbox_backlog", "Outbox rows not yet sent, by kind.", labels=["kind"]
        )
        for kind in sorted({"mail", "slack", *g.outbox_backlog}):
            backlog.add_metric([kind], g.outbox_backlog.get(kind, 0))
        yield backlog
        yield GaugeMetricFamily(
            "dsr_outbox_oldest_unsent_mail_age_seconds",
            "Age of the oldest mail still in the outbox (0: none).",
            value=self._age(g.oldest_unsent_mail),
        )
        lag = GaugeMetricFamily(
            "dsr_mailbox_lag_seconds",
            "Time since intake last recorded progress on the mailbox.",
            labels=["mailbox"],
        )
        for mailbox, at in sorted(g.mailbox_progress.items()):
            lag.add_metric([mailbox], self._age(at if at.tzinfo else at.replace(tzinfo=UTC)))
        yield lag
        yield GaugeMetricFamily(
            "dsr_oldest_open_case_age_seconds",
            "Age of the oldest open case (0: none open).",
            value=self._age(g.oldest_open_case),
        )
        days = (g.nearest_due - self.now.date()).days if g.nearest_due is not None else 0
        yield GaugeMetricFamily(
            "dsr_nearest_due_days",
            "Days to the nearest due date of an open case (negative: overdue; 0 also when none).",
            value=days,
        )
        yield _histogram(g.confidences)
        yield CounterMetricFamily(
            "dsr_verification_refusals",
            "Verification answers refused (audit events verification_refused).",
            value=self.refusals,
        )


def _histogram(values: list[float]) -> HistogramMetricFamily:
    counts = [sum(1 for v in values if v <= b) for b in CONFIDENCE_BUCKETS]
    buckets = [(str(b), float(n)) for b, n in zip(CONFIDENCE_BUCKETS, counts, strict=True)]
    buckets.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(
        "dsr_classifier_confidence",
        "The classifier's confidence in each case's intent.",
        buckets=buckets,
        sum_value=sum(values),
    )


async def render_metrics(desk: Desk) -> bytes:
    """The exposition text of one scrape."""
    async with desk.sessions() as session:
        gauges = await store.desk_gauges(session)
    refusals = await audit.count_action(desk.engine, "verification_refused")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(gauges, refusals, datetime.now(UTC)))
    return generate_latest(registry)


async def _metrics(request: web.Request) -> web.Response:
    body = await render_metrics(request.app[_DESK])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install_metrics(app: web.Application, desk: Desk) -> None:
    """Mount GET /metrics on `app`."""
    app[_DESK] = desk
    app.router.add_get("/metrics", _metrics)
