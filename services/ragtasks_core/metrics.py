"""Every Prometheus metric of ragtasks, in one module.

Conventions (prometheus.io naming): prefix ``ragtasks_``, base units (seconds), ``_total`` on
counters, bounded labels only (task, queue, outcome, model, kb, k, channel, kind) -- never ids
or hostnames. Workers run prefork children, so the start-up script sets
``PROMETHEUS_MULTIPROC_DIR`` (and wipes it); prometheus_client then writes one file per process
and the worker's HTTP endpoint aggregates them with ``MultiProcessCollector``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from . import __version__
from .contract import Queue, TaskName, queue_for

# LLM-bound tasks take seconds to minutes (a summary is one 2-30 s completion, an evaluation
# batch several, plus backoff). Buckets span 50 ms (no-op/ping) to 15 min (the soft time limit
# region) so p50/p95/p99 of both cheap and LLM tasks land inside a bucket, not in +Inf.
TASK_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900)
# Queue wait: from milliseconds (idle workers) to an hour (a backlog, or retry countdowns).
QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600)
# A single completion: sub-second for small models up to the client timeout.
LLM_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
# Waiting for a rate-limiter slot: 10/m means up to 6 s per slot, more under contention.
LIMITER_WAIT_BUCKETS = (0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

TASK_OUTCOMES = ("success", "failure", "retry", "rejected")
LLM_OUTCOMES = ("success", "rate_limited", "server_error", "timeout", "connection_error", "client_error")

TASKS = Counter(
    "ragtasks_tasks_total", "Task executions by final outcome of the attempt.", ["task", "queue", "outcome"]
)
TASK_DURATION = Histogram(
    "ragtasks_task_duration_seconds", "Task run time.", ["task", "queue"], buckets=TASK_DURATION_BUCKETS
)
TASK_QUEUE_WAIT = Histogram(
    "ragtasks_task_queue_wait_seconds",
    "Time from publish to the start of execution.",
    ["task", "queue"],
    buckets=QUEUE_WAIT_BUCKETS,
)
TASKS_IN_PROGRESS = Gauge(
    "ragtasks_tasks_in_progress", "Tasks executing now.", ["task", "queue"], multiprocess_mode="livesum"
)
TASKS_PUBLISHED = Counter(
    "ragtasks_tasks_published_total", "Tasks published by this process.", ["task", "queue", "outcome"]
)

LLM_REQUESTS = Counter("ragtasks_llm_requests_total", "LLM API calls by outcome.", ["model", "outcome"])
LLM_LATENCY = Histogram(
    "ragtasks_llm_request_duration_seconds", "LLM API call latency.", ["model"], buckets=LLM_LATENCY_BUCKETS
)
LLM_TOKENS = Counter("ragtasks_llm_tokens_total", "LLM tokens used.", ["model", "kind"])
RATE_LIMITER_WAIT = Histogram(
    "ragtasks_rate_limiter_wait_seconds",
    "Time spent waiting for a shared rate-limiter slot.",
    ["limiter"],
    buckets=LIMITER_WAIT_BUCKETS,
)
RATE_LIMITER_DEFERRALS = Counter(
    "ragtasks_rate_limiter_deferrals_total",
    "Tasks re-queued because the shared rate limiter had no slot soon enough.",
    ["limiter"],
)
SUMMARIES = Counter("ragtasks_summaries_total", "Summaries by outcome.", ["model", "outcome"])
# A 400 context_length_exceeded (or the provider's equivalent): the model's real window is smaller
# than RAGTASKS_LLM_CONTEXT_TOKENS says. Each one halves the summarizer's fold.
LLM_CONTEXT_EXCEEDED = Counter(
    "ragtasks_llm_context_exceeded_total",
    "LLM calls refused because the prompt exceeded the model's window.",
    ["model"],
)
# Each committed step of a (possibly multi-step) fold; ragtasks_summaries_total counts tasks.
SUMMARY_FOLD_STEPS = Counter(
    "ragtasks_summary_fold_steps_total", "Fold steps committed to a session's rolling summary.", ["model"]
)
SESSION_DELETE_REASONS = ("request", "retention")
SESSIONS_DELETED = Counter(
    "ragtasks_sessions_deleted_total",
    "Sessions deleted with their messages and summaries: by a DELETE request or by the retention job.",
    ["reason"],
)

PERIODIC_LAST_SUCCESS = Gauge(
    "ragtasks_periodic_task_last_success_timestamp_seconds",
    "Unix time of the last successful run of a periodic task.",
    ["task"],
    multiprocess_mode="max",
)

# caller: the API key's name (RAGTASKS_API_KEYS, so bounded by the settings) or "anonymous".
HTTP_REQUESTS = Counter(
    "ragtasks_http_requests_total", "Gateway HTTP requests.", ["method", "route", "status", "caller"]
)
HTTP_LATENCY = Histogram(
    "ragtasks_http_request_duration_seconds", "Gateway HTTP latency.", ["method", "route"], buckets=HTTP_BUCKETS
)

# A gauge, not an ``Info``: Info does not work in multiprocess mode (prefork workers).
BUILD_INFO = Gauge("ragtasks_build_info", "Build information (always 1).", ["version"], multiprocess_mode="max")


def init_task_series(tasks: Iterable[str]) -> None:
    """Create every (task, queue, outcome) series up front so zero-valued series exist."""
    for task in tasks:
        queue = queue_for(task).value
        for outcome in TASK_OUTCOMES:
            TASKS.labels(task, queue, outcome)
        TASK_DURATION.labels(task, queue)
        TASK_QUEUE_WAIT.labels(task, queue)
        TASKS_IN_PROGRESS.labels(task, queue)


def init_publish_series(tasks: Iterable[str]) -> None:
    for task in tasks:
        for outcome in ("ok", "error"):
            TASKS_PUBLISHED.labels(task, queue_for(task).value, outcome)


def init_llm_series(model: str) -> None:
    for outcome in LLM_OUTCOMES:
        LLM_REQUESTS.labels(model, outcome)
    LLM_LATENCY.labels(model)
    for kind in ("prompt", "completion"):
        LLM_TOKENS.labels(model, kind)
    RATE_LIMITER_WAIT.labels("llm")
    RATE_LIMITER_DEFERRALS.labels("llm")
    LLM_CONTEXT_EXCEEDED.labels(model)
    SUMMARY_FOLD_STEPS.labels(model)


def init_session_series(reasons: tuple[str, ...] = SESSION_DELETE_REASONS) -> None:
    for reason in reasons:
        SESSIONS_DELETED.labels(reason)


def tasks_of(queue: Queue) -> list[str]:
    return [t.value for t in TaskName if queue_for(t.value) is queue]


def set_build_info() -> None:
    BUILD_INFO.labels(__version__).set(1)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def registry_for_scrape() -> CollectorRegistry:
    """The registry an HTTP endpoint should serve: aggregated across processes when enabled."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


# --- alerter (issue: alerter) -------------------------------------------------------------------
ALERT_CHANNELS = ("wecom", "webhook")
# Delivery attempts (sent, failed: will retry, dead: dead-lettered) and, with a routes file, the
# routing decisions (routed, silenced, inhibited, muted), counted when a route's outcome changes.
ALERT_OUTCOMES = ("sent", "failed", "dead", "routed", "silenced", "inhibited", "muted")
ALERTS = Counter(
    "ragtasks_alerts_total",
    "Alert delivery attempts (sent, failed, dead) and routing decisions (routed, silenced, inhibited, muted).",
    ["channel", "outcome"],
)
ALERTS_RAISED = Counter(
    "ragtasks_alerts_raised_total", "Alerts received by the alerter, by source and status.", ["source", "status"]
)
RETRIEVAL_EVENTS = Counter(
    "ragtasks_retrieval_events_total", "Retrieval events reported to the gateway, by KB.", ["kb", "outcome"]
)
# Retrieval latency as the RAG app reports it (``latency_ms``): a vector search plus a reranker
# answers in 10 ms to a few seconds.
RETRIEVAL_LATENCY = Histogram(
    "ragtasks_retrieval_duration_seconds",
    "Retrieval latency reported by the RAG app with each retrieval event, by KB.",
    ["kb"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RETRIEVAL_EMPTY_RATIO = Gauge(
    "ragtasks_retrieval_empty_ratio",
    "Share of empty retrievals of a KB in the sliding window, as of its last reported batch.",
    ["kb"],
    multiprocess_mode="mostrecent",
)
# The review list (ragtasks_gateway.query_sampler): queries, not requests. recorded, dropped and
# failed count a request's distinct queries, as the list counts them; busy counts its queries as
# reported, since normalising them is the work it skips. Sampling turned off (the bound at 0) is
# a setting, not an event: not counted. Two requests racing for a KB's last places: the one that
# trims the excess counts it dropped (stores.event_queries), so the totals hold, not whose it was.
EVENT_QUERY_OUTCOMES = ("recorded", "dropped", "busy", "failed")
EVENT_QUERIES_SAMPLED = Counter(
    "ragtasks_event_queries_sampled_total",
    "Retrieval events' queries for the review list: recorded, dropped (the KB's list is full), "
    "busy (not sampled: too many writes in flight), failed (the write raised).",
    ["outcome"],
)


def init_event_query_series() -> None:
    for outcome in EVENT_QUERY_OUTCOMES:
        EVENT_QUERIES_SAMPLED.labels(outcome)


def init_alert_series() -> None:
    for channel in ALERT_CHANNELS:
        for outcome in ALERT_OUTCOMES:
            ALERTS.labels(channel, outcome)


# --- evaluator (issue: evaluator) ---
# Recall of the latest finished evaluation per KB; "mostrecent" so the prefork child that
# finalized last wins. ``kb`` is bounded by the configured knowledge bases, ``k`` by the k list.
EVAL_HIT_RATE = Gauge(
    "ragtasks_eval_hit_rate",
    "Hit rate@k of the latest finished recall evaluation.",
    ["kb", "k"],
    multiprocess_mode="mostrecent",
)
EVAL_MRR = Gauge(
    "ragtasks_eval_mrr",
    "Mean reciprocal rank@k of the latest finished recall evaluation.",
    ["kb", "k"],
    multiprocess_mode="mostrecent",
)
EVAL_NDCG = Gauge(
    "ragtasks_eval_ndcg",
    "nDCG@k of the latest finished recall evaluation.",
    ["kb", "k"],
    multiprocess_mode="mostrecent",
)
