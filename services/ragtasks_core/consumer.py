"""The worker's consumer: a message it cannot run goes to the DLQ *with its reason*; none stops it.

RabbitMQ's own dead-lettering records only *that* a message was rejected, not *why*. So when the
worker refuses a message -- in its consumer (:class:`DeadLetteringConsumer`) or in a task that
rejects its payload (:func:`dead_letter_current`) -- it publishes a copy to ``ragtasks.dlx``
itself, with the reason in the ``x-ragtasks-*`` headers of ``dlq``, waits for the broker's
confirm, and only then acks the original: exactly one copy lands in the DLQ. If that publish
fails, the original is rejected without requeue and the broker dead-letters it (without the
reason) -- still exactly one.

Stock Celery trusts the shape of a protocol-v2 message: a body ``null``, a ``timelimit`` of
``"x"`` or a missing ``id`` header raise inside its consumer callback, which ends the worker
process ("Unrecoverable error"); the message is redelivered to the next worker and kills it too.
Here :func:`refusal_reason` checks the headers and the decoded body first (type checks on a
dict that is already in memory; kombu caches the decoded body, so Celery does not decode it
again), and any other exception Celery raises while turning a message into a request
dead-letters that message instead of ending the process.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from celery.exceptions import ImproperlyConfigured
from celery.utils.objects import Bunch
from celery.worker import state as worker_state
from celery.worker.consumer import Consumer
from kombu.message import Message

from . import runtime
from .celery_app import DEAD_LETTER_EXCHANGE
from .contract import TaskName
from .dlq import AT_HEADER, QUEUE_HEADER, REASON_HEADER, TASK_HEADER
from .message_shape import body_problem, eta_problem, header_problem, usable_task_id
from .settings import Settings

log = logging.getLogger(__name__)

# Header keys of Celery's protocol v2 (what a task message carries besides the body).
PROTOCOL_V2_HEADERS = (
    "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries", "timelimit",
    "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting",
    "stamped_headers", "stamps",
)  # fmt: skip
NO_TASK_HEADER = "not a Celery protocol v2 task message (no 'task' header)"
MALFORMED = "malformed task message"
_FAST_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}
_RAGTASKS_TASKS = frozenset(t.value for t in TaskName)


def publish_dead_letter(
    app: Celery,
    *,
    queue: str,
    body: bytes | str,
    headers: dict[str, Any],
    content_type: str | None,
    content_encoding: str | None,
    properties: dict[str, Any],
    reason: str,
    task: str | None,
) -> bool:
    """Publish one message to ``ragtasks.dlx`` (routing key ``queue``) with the reason headers.

    Waits for the broker's confirm (``confirm_publish``); True when confirmed, False otherwise.
    """
    stamped = {
        **headers,
        REASON_HEADER: reason[:2000],
        TASK_HEADER: task or "",
        QUEUE_HEADER: queue,
        AT_HEADER: int(time.time()),
    }
    extra = {k: properties[k] for k in ("correlation_id", "reply_to", "priority") if properties.get(k) is not None}
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(
                body,
                exchange=DEAD_LETTER_EXCHANGE,
                routing_key=queue,
                headers=stamped,
                content_type=content_type or "application/octet-stream",
                content_encoding=content_encoding or "binary",
                delivery_mode=2,
                retry=True,
                retry_policy=_FAST_RETRY,
                mandatory=True,
                **extra,
            )
    except Exception as exc:
        log.warning("could not dead-letter a %s message with its reason: %s", queue, exc, exc_info=True)
        return False
    return True


def dead_letter_current(reason: str) -> bool:
    """Publish a copy of the running task's message to the DLX with ``reason``; True if confirmed.

    Runs inside a task. The copy has the same task id, body and protocol headers (rebuilt from the
    request: the body was valid JSON, or the task would not be running).
    """
    from celery import current_task

    task = current_task
    if task is None or not task.request.id:
        return False
    request = task.request
    headers = {key: getattr(request, key, None) for key in PROTOCOL_V2_HEADERS}
    headers.update({k: v for k, v in vars(request).items() if k.startswith("ragtasks_")})
    headers["task"], headers["id"] = task.name, request.id
    embed = {key: getattr(request, key, None) for key in ("callbacks", "errbacks", "chain", "chord")}
    return publish_dead_letter(
        task.app,
        queue=(request.delivery_info or {}).get("routing_key") or task.name.split(".")[1],
        body=json.dumps([list(request.args or []), dict(request.kwargs or {}), embed]),
        headers=headers,
        content_type="application/json",
        content_encoding="utf-8",
        properties={"correlation_id": request.id, **(getattr(request, "properties", None) or {})},
        reason=reason,
        task=task.name,
    )


class InvalidMessage(Exception):
    """A task message the worker refused to run (it is in the dead-letter queue)."""


def positional_args_reason(task: str, args: list[Any]) -> str | None:
    """Why a ragtasks task message must be refused for positional arguments, or None.

    Our tasks take keyword arguments only (``def task(**kwargs)``), so ``[["x"], {...}, {...}]``
    would reach ``task("x", ...)``, fail with a TypeError before the payload is validated, and be
    acked as a plain FAILURE. Celery's own tasks (``celery.*``) do take positional arguments.
    """
    if task not in _RAGTASKS_TASKS or not args:
        return None
    return f"positional arguments are not accepted: {task} takes keyword arguments only (got {len(args)} positional)"


def retry_delay_problem(settings: Settings) -> str | None:
    """Which configured retry delay exceeds RAGTASKS_MAX_ETA_SECONDS, or None.

    Our retries wait in the broker (native delayed delivery) and so would arrive in time anyway;
    but a backoff longer than the limit the workers enforce on an eta contradicts it, so a worker
    refuses to start with it rather than silently clamping what the operator configured.
    """
    delays = {
        "RAGTASKS_LLM_BACKOFF_MAX_SECONDS": settings.llm_backoff_max_seconds,
        "RAGTASKS_ALERT_RETRY_MAX_SECONDS": settings.alert_retry_max_seconds,
        "RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS": settings.wecom_rate_limited_retry_seconds,
    }
    over = [f"{name}={value:g}" for name, value in delays.items() if value > settings.max_eta_seconds]
    if not over:
        return None
    verb = "exceeds" if len(over) == 1 else "exceed"
    return (
        f"{', '.join(over)} {verb} RAGTASKS_MAX_ETA_SECONDS={settings.max_eta_seconds:g}: a retry would wait "
        "longer than the eta a worker accepts; lower the backoff or raise RAGTASKS_MAX_ETA_SECONDS"
    )


def refusal_reason(
    message: Message, *, max_eta_seconds: float | None = None, now: datetime | None = None
) -> str | None:
    """Why the worker must dead-letter ``message`` before Celery sees it, or None to let Celery run it.

    Only protocol v2 is accepted (the ``task`` header; Celery's protocol-1 bodies are not part of
    the contract). Bodies of other content types are left to Celery, which refuses them
    (``ContentDisallowed``) without decoding them. With ``max_eta_seconds``, an eta further ahead
    than that is refused too (``message_shape.eta_problem``).
    """
    headers = message.headers
    if not isinstance(headers, dict) or "task" not in headers:
        return NO_TASK_HEADER
    problem = header_problem(headers)
    if problem is not None:
        return f"{MALFORMED}: {problem}"
    if max_eta_seconds is not None:
        problem = eta_problem(headers, now or datetime.now(UTC), max_eta_seconds)
        if problem is not None:
            return problem
    if message.content_type != "application/json":
        return None
    try:
        body = message.decode()  # cached on the message: Celery's ``message.payload`` reuses it
    except Exception as exc:  # noqa: BLE001 -- whatever the codec raised is the reason
        return f"cannot decode the body as {message.content_type!r}: {exc}"
    problem = body_problem(body)
    if problem is not None:
        return f"{MALFORMED}: {problem}"
    return positional_args_reason(headers["task"], body[0])


def record_refusal(app: Celery, headers: Any, reason: str) -> None:
    """Store FAILURE with ``reason`` for a refused message, so ``GET /v1/tasks/{id}`` says why.

    Only when its id is usable; no chord, chain or errbacks are followed (a refused message's
    workflow fields are not trusted)."""
    task_id = headers.get("id") if isinstance(headers, dict) else None
    if not usable_task_id(task_id):
        return
    task, root_id = headers.get("task"), headers.get("root_id")
    request = Bunch(
        task=task if isinstance(task, str) else None,
        root_id=root_id if isinstance(root_id, str) else None,
        chord=None,
        chain=None,
        errbacks=None,
    )
    try:
        app.backend.mark_as_failure(task_id, InvalidMessage(reason), request=request)
    except Exception:  # the message is dead-lettered either way
        log.warning("could not record the failure of refused task %s", task_id, exc_info=True)


class _Swapped:
    """A kombu message whose ``ack``/``reject`` are swapped (the copy is already dead-lettered,
    or could not be, and Celery would otherwise drop it)."""

    def __init__(self, message: Message, *, reject_acks: bool) -> None:
        self._message = message
        self._reject_acks = reject_acks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message, name)

    def reject_log_error(self, logger: Any, errors: Any, requeue: bool = False) -> None:
        if self._reject_acks:
            self._message.ack_log_error(logger, errors)
        else:
            self._message.reject_log_error(logger, errors, requeue=requeue)

    def ack(self, multiple: bool = False) -> None:
        if self._reject_acks:
            self._message.ack(multiple=multiple)
        else:
            self._message.reject(requeue=False)


def _forget_request(message: Message) -> None:
    """Drop the request Celery may have registered for ``message`` before it raised.

    Otherwise ``inspect reserved`` would list it forever, and a scheduled (``eta``) one would
    still fire and ack a message that is already settled."""
    task_id = message.headers.get("id") if isinstance(message.headers, dict) else None
    request = worker_state.requests.get(task_id) if isinstance(task_id, str) else None
    if request is None or getattr(request, "_message", None) is not message:
        return
    entry = getattr(request, "_eta_timer_entry", None)
    if entry is not None:
        entry.cancel()
    worker_state.task_ready(request)


class DeadLetteringConsumer(Consumer):
    """Celery's consumer, but every message it refuses goes to the DLQ *with a reason*.

    Stock Celery rejects unknown tasks and bodies it may not decode (which our queues dead-letter
    without a reason), *acks* -- silently drops -- a body it cannot decode, and dies on a message
    of the wrong shape. Here each gets a confirmed reason-stamped copy in the DLQ and the original
    is acked; if the copy cannot be published the original is rejected, so the broker
    dead-letters it. The worker process never exits because of what a message contains.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = runtime.configured_settings()
        problem = retry_delay_problem(settings)
        if problem is not None:  # refuse to start: see retry_delay_problem
            raise ImproperlyConfigured(problem)
        self.max_eta_seconds = settings.max_eta_seconds
        super().__init__(*args, **kwargs)

    def _copy(self, message: Message, reason: str) -> bool:
        headers = dict(message.headers or {})
        task = headers.get("task")
        return publish_dead_letter(
            self.app,
            queue=(message.delivery_info or {}).get("routing_key") or "unknown",
            body=message.body,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            properties=dict(message.properties or {}),
            reason=reason,
            task=task if isinstance(task, str) else None,
        )

    def refuse(self, message: Message, reason: str) -> None:
        """Dead-letter ``message`` with ``reason``, settle it, and record FAILURE if its id is usable."""
        log.warning("dead-lettering a %s message: %s", (message.delivery_info or {}).get("routing_key"), reason)
        if self._copy(message, reason):
            message.ack_log_error(log, self.connection_errors)
        else:
            message.reject_log_error(log, self.connection_errors, requeue=False)
        record_refusal(self.app, message.headers, reason)

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        copied = self._copy(message, f"cannot decode the body as {message.content_type!r}: {exc}")
        super().on_decode_error(_Swapped(message, reject_acks=copied), exc)

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        name = (message.headers or {}).get("task")
        copied = self._copy(message, f"unknown task name {name!r} (not registered on this worker)")
        super().on_unknown_task(body, _Swapped(message, reject_acks=copied), exc)

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        copied = self._copy(message, f"invalid task message: {exc}")
        super().on_invalid_task(body, _Swapped(message, reject_acks=copied), exc)

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's handler, behind :func:`refusal_reason` and a guard against anything it raises."""
        handle = super().create_task_handler(*args, **kwargs)
        # Connection and channel errors are Celery's to handle: it reconnects and the broker
        # redelivers what was not acked.
        recoverable = tuple(self.connection_errors) + tuple(self.channel_errors)
        limit = self.max_eta_seconds

        def on_task_received(message: Message) -> Any:
            reason = refusal_reason(message, max_eta_seconds=limit)
            if reason is not None:
                return self.refuse(message, reason)
            try:
                return handle(message)
            except recoverable:
                raise
            except Exception as exc:  # noqa: BLE001 -- a message must never end the worker
                self.on_handler_error(message, exc)
                return None

        return on_task_received

    def on_handler_error(self, message: Message, exc: Exception) -> None:
        """Celery raised while turning ``message`` into a request: dead-letter it, carry on."""
        if message.acknowledged:  # e.g. the result backend failed after Celery had settled it
            log.error("error after a %s message was settled; the worker carries on", message, exc_info=exc)
            return
        log.error("Celery could not handle a task message; dead-lettering it", exc_info=exc)
        _forget_request(message)
        self.refuse(message, f"{MALFORMED}: Celery could not turn it into a task request: {type(exc).__name__}: {exc}")
