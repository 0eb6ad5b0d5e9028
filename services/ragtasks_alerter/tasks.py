"""Celery tasks of the alerter queue: deserialize, call the pipeline, map results to retries/metrics."""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
from celery import Task, shared_task
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from ragtasks_core import metrics
from ragtasks_core.alerting.window import RetrievalWindows, hashed
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.alerter import DeliverAlert, FlushAlerts, RaiseAlert
from ragtasks_core.contract.common import Payload
from ragtasks_core.ratelimit import SharedRateLimiter
from ragtasks_core.runtime import Runtime, get_runtime
from ragtasks_core.settings import Settings, parse_rate
from ragtasks_core.tasks import parse_payload

from . import channels, routed, service, store
from .routing import Router, build_router

log = logging.getLogger(__name__)
metrics.init_alert_series()

KNOWN_SOURCES = frozenset({"empty_retrieval", "task_failure", "alertmanager", "evaluator", "api"})
_local = threading.local()


def _now() -> datetime:
    return datetime.now(UTC)


def _countdown(delay: float) -> int:
    # Native delayed delivery works in whole seconds and refuses anything below one.
    return max(1, math.ceil(delay))


def _backoff(retries: int) -> int:
    return min(60, 2 ** min(retries, 6))


def _runtime() -> Runtime:
    return get_runtime().set_up_once("alerter-indexes", store.ensure_indexes)


def _http() -> httpx.Client:
    client: httpx.Client | None = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != os.getpid():
        timeout = get_runtime().settings.alert_http_timeout_seconds
        client = httpx.Client(timeout=timeout, follow_redirects=False)
        _local.client, _local.pid = client, os.getpid()
    return client


def _publish_deliveries(ids: list[str]) -> None:
    for nid in ids:
        deliver.apply_async(kwargs=DeliverAlert(notification_id=nid).model_dump(mode="json"))


def _router(settings: Settings) -> Router | None:
    """The routes file's router, or None without one (today's single-robot path)."""
    if settings.alert_routes_file is None:
        return None
    return _load_router(
        settings.alert_routes_file,
        settings.timezone,
        settings.alert_group_wait_seconds,
        settings.alert_repeat_interval_seconds,
    )


# Read once per process (the worker checked it at start-up); a changed file needs a restart,
# like any other setting.
@functools.lru_cache(maxsize=2)
def _load_router(path: str, timezone: str, group_wait: float, repeat: float) -> Router:
    return build_router(path, timezone=timezone, group_wait=group_wait, repeat_interval=repeat)


def _count(outcomes: list[tuple[str, str]]) -> None:
    for kind, outcome in outcomes:
        metrics.ALERTS.labels(kind, outcome).inc()


def _routed_raise(rt: Runtime, router: Router, alert: RaiseAlert, now: datetime) -> dict[str, object]:
    done = routed.raise_alert(rt.db, router, alert, now)
    _count(done.outcomes)
    for group_key, flush_at in done.armed:
        wait = (flush_at - now).total_seconds()
        if wait <= 0:
            _routed_flush(rt, router, group_key)
        else:
            kwargs = FlushAlerts(group_key=group_key).model_dump(mode="json")
            flush_alerts.apply_async(kwargs=kwargs, countdown=_countdown(wait))
    return {"alert_id": done.alert_id, "group_ids": [key for key, _ in done.armed]}


def _routed_flush(rt: Runtime, router: Router, group_key: str) -> int:
    done = routed.flush_group(rt.db, router, group_key, _now())
    _count(done.outcomes)
    _publish_deliveries(done.notifications)
    return len(done.notifications)


@shared_task(bind=True, name=TaskName.RAISE_ALERT.value, max_retries=None)
def raise_alert(self: Task, **kwargs: Any) -> dict[str, object]:
    """Record one alert and start its group's wait.

    Idempotent enough for at-least-once delivery: a firing alert is deduplicated by fingerprint
    (a redelivery only bumps the occurrence count), a repeated resolution finds nothing open, and
    the group timer is armed by an upsert only one caller wins.
    """
    alert = parse_payload(RaiseAlert, kwargs)
    now = _now()
    # Sources are free text from API callers: only the known ones become a label value.
    source = alert.source if alert.source in KNOWN_SOURCES else "other"
    try:
        rt = _runtime()
        router = _router(rt.settings)
        if router is not None:
            result = _routed_raise(rt, router, alert, now)
            metrics.ALERTS_RAISED.labels(source, alert.status).inc()
            return result
        raised = service.raise_alert(rt.db, alert, now, group_wait=rt.settings.alert_group_wait_seconds)
    except (PyMongoError, RedisError) as exc:
        # The alert lives only in this message until it is stored: never let it fail away.
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from exc
    metrics.ALERTS_RAISED.labels(source, alert.status).inc()
    if raised.flush_at is not None:
        wait = (raised.flush_at - now).total_seconds()
        if wait <= 0:
            _publish_deliveries(service.flush_group(rt.db, raised.group_key, now, rt.settings))
        else:
            flush_alerts.apply_async(
                kwargs=FlushAlerts(group_key=raised.group_key).model_dump(mode="json"), countdown=_countdown(wait)
            )
    return {"alert_id": raised.alert_id, "group_key": raised.group_key}


@shared_task(bind=True, name=TaskName.FLUSH_ALERTS.value, max_retries=None)
def flush_alerts(self: Task, **kwargs: Any) -> dict[str, object]:
    """Send what is due: one group (after its wait), or everything due (beat, no group).

    Idempotent: a group is claimed by compare-and-set, so a duplicate flush finds nothing to do;
    notifications are stored before their deliver tasks are published, and the periodic run
    republishes any whose task was lost.
    """
    payload = parse_payload(FlushAlerts, kwargs)
    rt = _runtime()
    router = _router(rt.settings)
    if payload.group_key is not None and router is not None:
        return {"notifications": _routed_flush(rt, router, payload.group_key)}
    if payload.group_key is not None:
        ids = service.flush_group(rt.db, payload.group_key, _now(), rt.settings)
        _publish_deliveries(ids)
        return {"notifications": len(ids)}
    windows = RetrievalWindows(rt.redis, rt.settings.key_prefix, rt.settings.empty_retrieval_window_seconds)
    sweep = service.periodic(rt.db, windows, _now(), rt.settings, router)
    _count(sweep.outcomes)
    _publish_deliveries(sweep.notifications + sweep.republish)
    metrics.PERIODIC_LAST_SUCCESS.labels(TaskName.FLUSH_ALERTS.value).set_to_current_time()
    return {
        "resolved": len(sweep.resolved),
        "notifications": len(sweep.notifications),
        "republished": len(sweep.republish),
    }


@shared_task(bind=True, name=TaskName.DELIVER_ALERT.value, max_retries=None)
def deliver(self: Task, **kwargs: Any) -> dict[str, object]:
    """Deliver one notification; retry 45009 / busy / network errors, dead-letter permanent ones.

    Idempotent: the notification is claimed (with a lease) before sending and its state moves
    only from the claim, so a duplicate or redelivered task sends nothing another already sent.
    A retry is a countdown re-queue; failures are counted on the notification, not by Celery.
    """
    payload = parse_payload(DeliverAlert, kwargs)
    rt = _runtime()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    http = _http()  # made before a rate-limiter slot is taken, so the slot is not spent on set-up
    try:
        outcome = service.deliver(
            rt.db,
            payload.notification_id,
            _now,
            rt.settings,
            acquire=lambda channel, url: _acquire(rt, channel, url),
            send=lambda channel, url, body: channels.send(http, channel, url, body),
            worker=worker,
            router=_router(rt.settings),
        )
    except (PyMongoError, RedisError) as exc:
        # Mongo or Redis away: the notification keeps its state (a lease at worst); try again.
        raise self.retry(countdown=_backoff(self.request.retries), exc=exc) from exc
    if outcome.attempt_outcome is not None:
        metrics.ALERTS.labels(outcome.channel, outcome.attempt_outcome).inc()
    if outcome.action == "dead":
        log.warning("notification %s dead-lettered: %s", payload.notification_id, outcome.detail)
    if outcome.action == "retry":
        log.info("notification %s retries in %.1fs: %s", payload.notification_id, outcome.delay, outcome.detail)
        raise self.retry(countdown=_countdown(outcome.delay))
    return {"notification_id": payload.notification_id, "action": outcome.action, "detail": outcome.detail}


ROBOT_SPACING_MARGIN = 1.02


def _acquire(rt: Runtime, channel: str, url: str) -> float | None:
    """Take a slot of the robot's shared limit (WeCom only); else the seconds until one frees."""
    if channel != channels.WECOM:
        return None
    count, period = parse_rate(rt.settings.wecom_rate_limit)
    # The robot counts arrivals on its own clock, and a post that leaves late lets the next one
    # arrive early by as much (the soak measured gaps of 2.99 s at a 3 s spacing). Spacing 2% wider
    # (60 ms at 20/m) keeps a window at the configured count instead of one over it.
    period *= ROBOT_SPACING_MARGIN
    # The key names the robot by a hash of its URL: the secret never appears in Redis.
    key = f"{rt.settings.key_prefix}:ratelimit:wecom:{hashed(url)}"
    limiter = SharedRateLimiter(rt.redis, key, count=count, period=period, name="wecom")
    if limiter.acquire(rt.settings.alert_rate_limit_max_wait_seconds) is not None:
        return None
    return max(1.0, limiter.seconds_until_free())


@shared_task(name=TaskName.ALERTER_PING.value)
def ping(**kwargs: Any) -> str:
    """No-op round trip (idempotent)."""
    parse_payload(Payload, kwargs)
    return "pong"
