"""The worker processes and beat: concurrency, metrics endpoints, Celery's reliability knobs, time zone."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .environment import EnvironmentSettings
from .transforms import BlankIsNone, TimeZoneName

WORKER_NAMES = ("summarizer", "evaluator", "alerter")


class WorkerSettings(EnvironmentSettings):
    # Concurrency and metrics ports, one per worker.
    summarizer_concurrency: int = Field(2, ge=1)
    evaluator_concurrency: int = Field(2, ge=1)
    alerter_concurrency: int = Field(2, ge=1)
    summarizer_metrics_port: int = 9101
    evaluator_metrics_port: int = 9102
    alerter_metrics_port: int = 9103
    beat_metrics_port: int = 9104
    # Interface the worker and beat /metrics endpoints bind (unset: 127.0.0.1 in development, so a
    # laptop does not publish them on its LAN; 0.0.0.0 in production, where Prometheus and the
    # kubelet's probes reach the pod on its IP and the chart's NetworkPolicy limits who may).
    metrics_host: BlankIsNone[str | None] = None
    worker_pool: Literal["prefork", "threads", "solo"] = "prefork"

    # Celery reliability knobs
    task_soft_time_limit_seconds: int = Field(600, ge=1)
    task_time_limit_seconds: int = Field(660, ge=1)
    result_expires_seconds: int = Field(86_400, ge=60)
    worker_max_tasks_per_child: int = Field(1000, ge=1)
    worker_max_memory_per_child_kb: int = Field(512_000, ge=1024)
    # Quorum queues count deliveries; past this a message is dead-lettered instead of looping.
    delivery_limit: int = Field(5, ge=1)
    # A message whose eta/countdown lies further ahead than this is dead-lettered at once: the worker
    # would otherwise hold it unacked until the broker's consumer timeout and the delivery limit.
    max_eta_seconds: float = Field(3_600.0, gt=0, le=30 * 86_400)
    # Celery task events (received/started/succeeded...), for Flower and event-based tooling. Off by
    # default: each is a confirmed publish, ~2.5 per task, the largest cost a worker adds to a task
    # (issue 17). A running Flower turns the workers' events on itself (its `enable_events` remote
    # control), so this stays off even where Flower is deployed.
    worker_send_task_events: bool = False
    # The "sent" event of every publish (gateway, beat, retries): Flower's task view shows when a
    # task was sent only with this on. No remote control reaches publishers, so it is a setting.
    task_send_sent_event: bool = False

    # Scheduling (beat) and the times alerts show.
    timezone: TimeZoneName = "Asia/Shanghai"

    @property
    def effective_metrics_host(self) -> str:
        if self.metrics_host:
            return self.metrics_host
        return "127.0.0.1" if self.environment == "development" else "0.0.0.0"

    def concurrency_for(self, worker: str) -> int:
        return int(getattr(self, f"{worker}_concurrency"))

    def metrics_port_for(self, component: str) -> int:
        return int(getattr(self, f"{component}_metrics_port"))
