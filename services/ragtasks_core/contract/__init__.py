"""The one contract between the gateway (and any other publisher) and the workers.

Queue names, task names and the payload models live here and nowhere else. Publishers send
tasks *by name* (``send_task``) with ``kwargs = Payload.model_dump(mode="json")``; workers
validate the same model before doing any work. Payloads carry ids, never bulk data.
"""

from __future__ import annotations

from enum import StrEnum

from .common import ID_PATTERN, PAYLOAD_VERSION, Payload


class Queue(StrEnum):
    """One RabbitMQ queue per worker; each worker consumes only its own."""

    SUMMARIZER = "summarizer"
    EVALUATOR = "evaluator"
    ALERTER = "alerter"


class TaskName(StrEnum):
    """Celery task names. Public: other publishers (pika, other languages) use them verbatim."""

    SUMMARIZER_PING = "ragtasks.summarizer.ping"
    SUMMARIZE_SESSION = "ragtasks.summarizer.summarize_session"

    EVALUATOR_PING = "ragtasks.evaluator.ping"
    RUN_EVALUATION = "ragtasks.evaluator.run_evaluation"
    EVALUATE_BATCH = "ragtasks.evaluator.evaluate_batch"
    FINALIZE_EVALUATION = "ragtasks.evaluator.finalize_evaluation"
    MAINTAIN_KB = "ragtasks.evaluator.maintain_kb"
    NIGHTLY = "ragtasks.evaluator.nightly"

    ALERTER_PING = "ragtasks.alerter.ping"
    RAISE_ALERT = "ragtasks.alerter.raise_alert"
    FLUSH_ALERTS = "ragtasks.alerter.flush_alerts"
    DELIVER_ALERT = "ragtasks.alerter.deliver"

    # Periodic sweep of wanted-but-unpublished summaries (the outbox), run by beat.
    SWEEP_OUTBOX = "ragtasks.summarizer.sweep_outbox"
    # Nightly deletion of sessions idle longer than RAGTASKS_SESSION_RETENTION_DAYS, run by beat.
    DELETE_IDLE_SESSIONS = "ragtasks.summarizer.delete_idle_sessions"


# Periodic work is owned by no worker: beat's scheduled tasks go to this small queue, which every
# worker consumes besides its own (``ragtasks worker NAME`` loads their modules), so disabling any
# one worker stops none of them. Their names keep their owner's part (public contract); only the
# route differs. A publisher that routes by name (``ragtasks publish``) still reaches the owner,
# which registers them too.
MAINTENANCE_QUEUE = "maintenance"
SCHEDULED_TASKS = frozenset(
    {
        TaskName.SWEEP_OUTBOX.value,
        TaskName.DELETE_IDLE_SESSIONS.value,
        TaskName.NIGHTLY.value,
        TaskName.FLUSH_ALERTS.value,
    }
)
# Every queue a worker consumes, maintenance last: the one list the DLQ tool (``ragtasks dlq``) and
# the queue-depth metrics iterate; the topology Celery declares is the same (a unit test holds them
# equal), so a new queue reaches all three.
TASK_QUEUES: tuple[str, ...] = (*(queue.value for queue in Queue), MAINTENANCE_QUEUE)

# Tasks beat runs on a schedule: each success is recorded as
# ``ragtasks_periodic_task_last_success_timestamp_seconds{task}`` (alerts fire when one is late).
# Not DELETE_IDLE_SESSIONS: it is scheduled only when retention is set, and every task here is
# watched for a missing success (RagtasksPeriodicTaskMissing), which would fire without it.
PERIODIC_TASKS = frozenset(
    {TaskName.SWEEP_OUTBOX.value, TaskName.NIGHTLY.value, TaskName.MAINTAIN_KB.value, TaskName.FLUSH_ALERTS.value}
)


def queue_for(task: str) -> Queue:
    """The queue a task name belongs to: its second dotted component."""
    try:
        return Queue(task.split(".")[1])
    except (IndexError, ValueError) as exc:
        raise ValueError(f"unknown task name {task!r}") from exc


def route_for(task: str) -> str:
    """The queue a task is published to: ``maintenance`` for beat's tasks, else its owner's."""
    return MAINTENANCE_QUEUE if task in SCHEDULED_TASKS else queue_for(task).value


TASK_ROUTES: dict[str, dict[str, str]] = {
    name.value: {"queue": route_for(name.value), "routing_key": route_for(name.value)} for name in TaskName
}

__all__ = [
    "ID_PATTERN",
    "MAINTENANCE_QUEUE",
    "PAYLOAD_VERSION",
    "PERIODIC_TASKS",
    "SCHEDULED_TASKS",
    "TASK_QUEUES",
    "TASK_ROUTES",
    "Payload",
    "Queue",
    "TaskName",
    "queue_for",
    "route_for",
]
