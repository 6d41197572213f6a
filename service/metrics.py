"""Prometheus metrics: HTTP requests by route template, and the domain's own figures.

Counters and histograms live in this process (prometheus-client's multiprocess mode sums them over
the workers of `framestate serve --workers N`). Figures that are facts of the database, the exports
active now and the webhook deliveries pending, are read from it at scrape time, so they are right
whichever process answers and after any restart.
"""

import os
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from fsm.facts import START_ACTION_OF, Action, JobType
from fsm.jobs import ACTIVE_JOB_STATUSES, JobStatus
from fsm.table import INITIAL
from fsm.table import TRANSITIONS as TABLE
from service.change import Change
from service.schemas import as_utc
from service.store.db import Database
from service.store.tables import ExportJob, utcnow
from service.webhooks.tables import DeliveryStatus, WebhookDelivery

CONTENT_TYPE = CONTENT_TYPE_LATEST
OUTCOMES = ("succeeded", "failed", "cancelled", "timed_out", "superseded")
STREAMS = ("project", "all")
WEBHOOK_OUTCOMES = ("delivered", "retried", "failed", "skipped")
"""A delivery attempt: answered 2xx; failed and to be tried again; failed for good. And a progress
delivery skipped, its figures carried by a newer one or its job ended."""
DISABLE_REASONS = ("gone", "failing")
LAG_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
"""From ten milliseconds (a receiver next door) to an hour (one that was away)."""
TYPE_OF_START = {action: job_type for job_type, action in START_ACTION_OF.items()}

disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    "framestate_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "framestate_http_request_duration_seconds",
    "Time to answer an HTTP request (an event stream: its whole life)",
    ["method", "route"],
)
TRANSITIONS = Counter(
    "framestate_transitions_total",
    "Committed changes of status: every move of the state machine, and each project's creation",
    ["action", "from_status", "to_status"],
)
EXPORTS_STARTED = Counter("framestate_exports_started_total", "Export jobs started", ["type"])
EXPORT_DURATION_BUCKETS_S = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
"""From a second to two hours: an export's life."""
EXPORTS_FINISHED = Counter(
    "framestate_exports_finished_total", "Export jobs finished, by outcome", ["type", "outcome"]
)
EXPORT_DURATION = Histogram(
    "framestate_export_duration_seconds",
    "Export jobs from start to finish",
    ["type", "outcome"],
    buckets=EXPORT_DURATION_BUCKETS_S,
)
EVENT_SUBSCRIBERS = Gauge(
    "framestate_event_subscribers", "Open event streams", ["stream"], multiprocess_mode="livesum"
)
WRITE_CONFLICTS = Counter("framestate_write_conflicts_total", "Writes retried after losing a race")
STATUS_DISAGREEMENTS = Counter(
    "framestate_status_disagreements_total",
    "Writes refused because the machine's destination and status_from_facts disagreed (a bug)",
)
WEBHOOK_DELIVERIES = Counter(
    "framestate_webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"]
)

WEBHOOK_LAG = Histogram(
    "framestate_webhook_delivery_lag_seconds",
    "From a change's commit to a 2xx of its webhook delivery",
    buckets=LAG_BUCKETS_S,
)
WEBHOOK_DISABLED = Counter(
    "framestate_webhook_endpoints_disabled_total", "Webhook endpoints disabled, by reason", ["reason"]
)

NO_STATUS = "none"
"""The `from_status` of a creation, which has none (its history row says null)."""

for transition in TABLE:
    TRANSITIONS.labels(transition.action.value, transition.source.value, transition.dest.value)
TRANSITIONS.labels(Action.PROJECT_CREATED.value, NO_STATUS, INITIAL.value)
for job_type in JobType:
    EXPORTS_STARTED.labels(job_type.value)
    for outcome in OUTCOMES:
        EXPORTS_FINISHED.labels(job_type.value, outcome)
        EXPORT_DURATION.labels(job_type.value, outcome)
for stream in STREAMS:
    EVENT_SUBSCRIBERS.labels(stream)
for outcome in WEBHOOK_OUTCOMES:
    WEBHOOK_DELIVERIES.labels(outcome)
for reason in DISABLE_REASONS:
    WEBHOOK_DISABLED.labels(reason)

_http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
STANDARD_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))
OTHER_METHOD = "other"
"""The method label of any request whose method is not a standard one: a client may send any token
as a method, and a label value made of what a client sends would be a series per request."""


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """`route` is a route template or one value for every unmatched path, never the raw path."""
    if method not in STANDARD_METHODS:
        method = OTHER_METHOD
    key = (method, route, status)
    if (children := _http_children.get(key)) is None:
        children = _http_children[key] = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)


def change_committed(change: Change) -> None:
    """Count what a committed change did: its move (a creation too), the job it started, the jobs
    it ended with their outcome and duration."""
    if change.action is None:
        return
    from_status = change.from_status.value if change.from_status else NO_STATUS
    TRANSITIONS.labels(change.action.value, from_status, change.to_status.value).inc()
    if (started := TYPE_OF_START.get(change.action)) is not None:
        EXPORTS_STARTED.labels(started.value).inc()
    for job in change.ended:
        timed_out = change.timed_out and job.id == change.job_id
        outcome = "timed_out" if timed_out else JobStatus(job.status).value
        EXPORTS_FINISHED.labels(job.type, outcome).inc()
        seconds = (as_utc(job.finished_at or change.at) - as_utc(job.created_at)).total_seconds()
        EXPORT_DURATION.labels(job.type, outcome).observe(max(seconds, 0.0))


def write_conflict() -> None:
    WRITE_CONFLICTS.inc()


def status_disagreement() -> None:
    STATUS_DISAGREEMENTS.inc()


def stream_opened(stream: str) -> None:
    EVENT_SUBSCRIBERS.labels(stream).inc()


def stream_closed(stream: str) -> None:
    EVENT_SUBSCRIBERS.labels(stream).dec()


def webhook_attempt(outcome: str) -> None:
    """One attempt at a webhook delivery: `delivered`, `retried` (it failed and waits for another
    attempt) or `failed` (it failed past its max age)."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()


def webhook_skipped(count: int) -> None:
    if count:
        WEBHOOK_DELIVERIES.labels("skipped").inc(count)


def webhook_delivered(lag_s: float) -> None:
    WEBHOOK_LAG.observe(max(lag_s, 0.0))


def webhook_endpoint_disabled(reason: str) -> None:
    WEBHOOK_DISABLED.labels(reason).inc()


async def _database_gauges(db: Database) -> list[Metric]:
    query = (
        select(ExportJob.type, func.count())
        .where(col(ExportJob.status).in_(ACTIVE_JOB_STATUSES))
        .group_by(col(ExportJob.type))
    )
    pending_rows = col(WebhookDelivery.status) == DeliveryStatus.PENDING.value
    waiting = select(func.count()).where(pending_rows)
    now = utcnow()
    oldest_due = select(func.min(WebhookDelivery.next_attempt_at)).where(
        pending_rows, col(WebhookDelivery.next_attempt_at) <= now
    )
    async with db.read() as session:
        counts = dict((await session.exec(query)).all())
        pending_now = (await session.exec(waiting)).one()
        due_since = (await session.exec(oldest_due)).one()
    active = GaugeMetricFamily("framestate_active_exports", "Export jobs active now", labels=["type"])
    for job_type in JobType:
        active.add_metric([job_type.value], counts.get(job_type.value, 0))
    pending = GaugeMetricFamily("framestate_webhook_pending", "Webhook deliveries waiting to be sent")
    pending.add_metric([], pending_now)
    oldest = GaugeMetricFamily(
        "framestate_webhook_oldest_pending_seconds", "Age of the oldest webhook delivery that is due"
    )
    oldest.add_metric([], (now - as_utc(due_since)).total_seconds() if due_since is not None else 0.0)
    return [active, pending, oldest]


class _Scrape(Collector):
    def __init__(self, sources: Iterable[Collector], extra: list[Metric]) -> None:
        self.sources = sources
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()
        yield from self.extra


def _process_metrics() -> Collector:
    """This process's registry, or with several workers the sum over all of them."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


async def exposition(db: Database) -> bytes:
    """The text format of every metric; the database's figures are left out while it is away."""
    try:
        extra = await _database_gauges(db)
    except Exception:  # the scrape still shows what the processes know; readiness says the rest
        extra = []
    return generate_latest(_Scrape([_process_metrics()], extra))
