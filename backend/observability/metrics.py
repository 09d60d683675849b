"""Prometheus metrics of the case backend (exposed at GET /metrics by `backend.observability.web`).

Two kinds:

- **Process counters** (HTTP requests and latency, messages relayed to the bot, bot errors, Rasa round
  trips) are prometheus_client metrics, counted in the worker that did the work. With several uvicorn
  workers they only add up when PROMETHEUS_MULTIPROC_DIR is set (prometheus_client's multiprocess
  mode: each worker writes its values to files in that directory and any worker's /metrics sums them).
  prometheus_client chooses the mode when the first metric is created, so the variable must be in the
  environment before the process starts, and the directory must be emptied before the workers start
  (files of dead workers would otherwise be counted again).
- **Business gauges** (cases by status, the handoff queue, overdue cases) are read from the database
  at scrape time by `BusinessCollector`: a few indexed aggregate queries, the same answer whichever
  worker is scraped, nothing to keep in sync between workers.

Labels never carry ids: routes are templates (`/api/v1/cases/{case_id}`), statuses are classes (`2xx`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import Case, Handoff
from backend.vocab import CLOSED_STATUSES, CaseStatus

log = logging.getLogger("backend.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HANDOFF_STATES = ("open", "claimed")  # open: waiting for an agent; claimed: an agent has it, not closed yet
DEADLINE_PARTIES = ("buyer", "merchant", "platform")  # whose turn a deadline can be (policy.yaml deadlines)

HTTP_REQUESTS = Counter(
    "aftersales_http_requests_total", "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "aftersales_http_request_duration_seconds", "Time from request to the end of the response, by route template.",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
BOT_MESSAGES = Counter(
    "aftersales_gateway_bot_messages_total", "Buyer messages the gateway relayed to the bot (Rasa).")
BOT_ERRORS = Counter(
    "aftersales_gateway_bot_errors_total",
    "Relayed messages the bot did not answer (Rasa or the action server down, timeout, bad reply).")
RASA_LATENCY = Histogram(
    "aftersales_gateway_rasa_seconds", "Round trip to Rasa per relayed message, by outcome (ok, error).",
    ["outcome"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0))


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request. `route` must be a template (or "unmatched"), never a raw path."""
    method = method if method in KNOWN_METHODS else "other"  # arbitrary verbs must not mint series
    HTTP_REQUESTS.labels(method, route, status_class(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def observe_rasa(seconds: float, ok: bool) -> None:
    """One buyer message relayed to the bot: counted, its round trip timed, and a failure counted."""
    BOT_MESSAGES.inc()
    RASA_LATENCY.labels("ok" if ok else "error").observe(seconds)
    if not ok:
        BOT_ERRORS.inc()


class BusinessCollector(Collector):
    """Gauges read from the database when Prometheus scrapes, with cheap grouped counts.

    `aftersales_business_metrics_up` is 0 (and the other gauges absent) when the database did not
    answer, so an alert can tell "no cases" from "no data".
    """

    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.session_factory, self.clock = session_factory, clock

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("aftersales_business_metrics_up",
                               "1 when the database answered the business-metrics queries of this scrape.")
        try:
            families = self._read()
        except Exception:
            log.warning("business metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        now = self.clock()
        closed = [s.value for s in CLOSED_STATUSES]
        with self.session_factory() as session:
            by_status = dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all())
            handoffs = dict(session.execute(
                select(Handoff.status, func.count()).where(Handoff.status.in_(HANDOFF_STATES))
                .group_by(Handoff.status)).all())
            oldest_open = session.execute(
                select(func.min(Handoff.created_at)).where(Handoff.status == "open")).scalar()
            overdue = dict(session.execute(
                select(Case.due_party, func.count())
                .where(Case.due_at.is_not(None), Case.due_at < now, Case.status.not_in(closed))
                .group_by(Case.due_party)).all())

        cases = GaugeMetricFamily("aftersales_cases", "Cases by current status.", labels=["status"])
        for status in CaseStatus:  # every status, zeros included: an alert sees 0, not a missing series
            cases.add_metric([status.value], by_status.pop(status.value, 0))
        for status, count in by_status.items():  # a status this code does not know yet
            cases.add_metric([str(status)], count)
        queue = GaugeMetricFamily("aftersales_handoff_queue",
                                  "Live handoffs: open (waiting for an agent) and claimed (an agent has it).",
                                  labels=["state"])
        for state in HANDOFF_STATES:
            queue.add_metric([state], handoffs.get(state, 0))
        wait = GaugeMetricFamily("aftersales_handoff_oldest_wait_seconds",
                                 "How long the oldest handoff nobody has claimed has been waiting (0: none).")
        wait.add_metric([], max(0.0, (now - oldest_open).total_seconds()) if oldest_open else 0.0)
        late = GaugeMetricFamily("aftersales_cases_overdue",
                                 "Open cases whose current deadline has passed, by the party whose turn it is.",
                                 labels=["party"])
        for party in DEADLINE_PARTIES:
            late.add_metric([party], overdue.pop(party, 0))
        for party, count in overdue.items():
            late.add_metric([party or "unknown"], count)
        return [cases, queue, wait, late]


class _ProcessMetrics(Collector):
    """This process's default registry (our counters plus prometheus_client's process and GC metrics)."""

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render(*collectors: Collector) -> tuple[bytes, str]:
    """The exposition text: process counters (summed over every worker in multiprocess mode) and the
    given collectors. A registry per scrape, so several apps in one process (the tests) never clash."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path)
    else:
        registry.register(_ProcessMetrics())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST
