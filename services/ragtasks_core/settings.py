"""Typed settings, read once from ``RAGTASKS_*`` environment variables and passed in.

Nothing here is a global: ``Settings()`` builds a fresh object so tests (and each process)
can build their own. Secrets have working defaults only in development mode.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .api_keys import ApiKey, parse_api_keys
from .secrets_check import secret_problem, url_password_problem

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_PERIOD_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
WORKER_NAMES = ("summarizer", "evaluator", "alerter")
DEV_API_KEY = "dev-key"


def parse_rate(text: str) -> tuple[float, float]:
    """Parse ``"10/m"`` into ``(10.0, 60.0)``: (requests, per seconds)."""
    match = _RATE_RE.match(text)
    if not match:
        raise ValueError(f"rate must look like '10/m', '2/s' or '100/h', got {text!r}")
    count = float(match.group(1))
    if count <= 0:
        raise ValueError("rate must be positive")
    return count, _PERIOD_SECONDS[match.group(2)]


def broker_credentials_problem(url: str) -> str | None:
    """Why a broker URL must not be used in production (no or default credentials), or None.

    Celery accepts several URLs separated by ``;`` (failover): every one is checked.
    """
    for part in url.split(";"):
        parsed = urlsplit(part.strip())
        if not parsed.username or not parsed.password:
            return "must carry credentials (amqp://user:password@host:5672/vhost)"
        if (unquote(parsed.username), unquote(parsed.password)) == ("guest", "guest"):
            return "must not use RabbitMQ's default guest:guest credentials"
    return None


class Settings(BaseSettings):
    """Every knob of ragtasks. Env var = ``RAGTASKS_`` + the upper-case field name."""

    # hide_input_in_errors: a refused setting's error must not echo the environment (secrets) into logs.
    model_config = SettingsConfigDict(
        env_prefix="RAGTASKS_", extra="ignore", validate_default=True, hide_input_in_errors=True
    )

    environment: Literal["development", "production"] = "development"

    # Infrastructure
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    result_backend: str = "redis://127.0.0.1:6379/0"
    # Redis for the rate limiters, sliding windows and locks; defaults to the result backend. Also
    # redis+sentinel://[:password@]host:26379[,host:26379...]/<master>[/<db>] (ragtasks_core/redis_client.py).
    redis_url: str | None = None
    # Redis HA without a redis+sentinel:// URL: the sentinels ("host:26379,host:26379") and the name
    # of the master they monitor. When set, RAGTASKS_REDIS_URL and RAGTASKS_RESULT_BACKEND (redis://)
    # keep their password and db but find their master through these sentinels. The master name
    # also completes a Celery-style sentinel:// result backend.
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_master: str | None = None
    # The sentinels' own password (requirepass in sentinel.conf), if they have one.
    redis_sentinel_password: SecretStr | None = None
    # Prefix of every Redis key ragtasks writes (not Celery's own result keys).
    key_prefix: str = "ragtasks"
    # RabbitMQ management API, for queue depth metrics (ready/unacked) and consumers.
    # Default: the broker's host on port 15672 with the broker's credentials.
    rabbitmq_management_url: str | None = None
    mongodb_url: str = "mongodb://127.0.0.1:27017/?retryWrites=false"
    mongodb_db: str = "ragtasks"

    # LLM (OpenAI-compatible). No base URL means the offline extractive summarizer.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(60.0, gt=0)
    llm_rate_limit: str = "10/m"
    llm_max_retries: int = Field(5, ge=0, le=20)
    llm_backoff_base_seconds: float = Field(2.0, gt=0)
    llm_backoff_max_seconds: float = Field(600.0, gt=0)
    # A task waits in-process for a rate-limiter slot at most this long, then re-queues itself
    # with a countdown (which does not count as a retry).
    llm_rate_limit_max_wait_seconds: float = Field(30.0, ge=0)

    # Gateway
    # Bearer keys, comma-separated: TOKEN, NAME:TOKEN or NAME:TOKEN:read+write+admin
    # (ragtasks_core/api_keys.py). After validation this holds the tokens; api_key_entries the keys.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Serve /docs, /redoc and /openapi.json (unset: on in development, off in production).
    docs_enabled: bool | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    max_messages_per_request: int = Field(100, ge=1)
    max_message_chars: int = Field(32_000, ge=1)
    # The largest request body the gateway reads (Content-Length and the bytes actually streamed):
    # larger ones get 413 before any parsing. Per-endpoint text totals are derived from it.
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    # A request body must arrive within this long of its headers, else 408 (slow or half-sent bodies).
    request_body_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    # /readyz answers from a cached result this long: probes (or anyone) cannot hammer the backends.
    readiness_cache_seconds: float = Field(2.0, ge=0, le=300)

    # Summarizer
    summary_trigger_tokens: int = Field(2000, ge=1)
    summary_keep_recent_messages: int = Field(6, ge=0)
    summary_max_tokens: int = Field(512, ge=16)
    # The model's context window in tokens (counted with the same BPE as everything else): no
    # prompt the summarizer or the evaluator builds exceeds it, with room left for the reply
    # (RAGTASKS_SUMMARY_MAX_TOKENS) and the instructions. A server that still answers 400
    # context_length_exceeded makes the summarizer halve its fold (the real window is smaller).
    llm_context_tokens: int = Field(16_000, ge=1024, le=10_000_000)
    # Also trigger a summary after this many messages since the last one (unset: by tokens only,
    # RAGTASKS_SUMMARY_TRIGGER_TOKENS).
    summary_trigger_messages: int | None = Field(None, ge=1)
    # Keep the newest messages totalling at most this many tokens verbatim, instead of the newest
    # RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES (unset: keep by count).
    summary_keep_recent_tokens: int | None = Field(None, ge=0)
    # A UTF-8 text file whose content replaces the summarizer's built-in instruction (system prompt).
    summary_prompt_file: str | None = None
    # Delete sessions (messages, summaries, state) idle longer than this many days, nightly
    # (unset: keep forever).
    session_retention_days: int | None = Field(None, ge=1, le=36_500)

    # Workers: concurrency and metrics ports, one per worker.
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
    metrics_host: str | None = None
    worker_pool: Literal["prefork", "threads", "solo"] = "prefork"

    # Celery reliability knobs
    task_soft_time_limit_seconds: int = Field(600, ge=1)
    task_time_limit_seconds: int = Field(660, ge=1)
    result_expires_seconds: int = Field(86_400, ge=60)
    worker_max_tasks_per_child: int = Field(1000, ge=1)
    worker_max_memory_per_child_kb: int = Field(512_000, ge=1024)
    # Quorum queues count deliveries; past this a message is dead-lettered instead of looping.
    delivery_limit: int = Field(5, ge=1)
    # Celery task events (received/started/succeeded...), for Flower and event-based tooling. Off by
    # default: each is a confirmed publish, ~2.5 per task, the largest cost a worker adds to a task
    # (issue 17). A running Flower turns the workers' events on itself (its `enable_events` remote
    # control), so this stays off even where Flower is deployed.
    worker_send_task_events: bool = False
    # The "sent" event of every publish (gateway, beat, retries): Flower's task view shows when a
    # task was sent only with this on. No remote control reaches publishers, so it is a setting.
    task_send_sent_event: bool = False

    # Scheduling
    timezone: str = "Asia/Shanghai"

    # --- evaluator settings (issue: evaluator) ---
    # Knowledge base ingestion limits (POST /v1/kbs/{kb_id}/chunks).
    kb_max_chunks_per_request: int = Field(500, ge=1)
    kb_max_chunk_chars: int = Field(20_000, ge=1)
    # Recall evaluation.
    eval_kbs: Annotated[list[str], NoDecode] = Field(default_factory=list)  # nightly: comma-separated KB ids
    eval_sample_size: int = Field(100, ge=1)  # nightly sample size
    eval_max_sample_size: int = Field(5000, ge=1)
    eval_k: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [1, 5, 10])  # nightly k values: "1,5,10"
    eval_seed: int = 42  # nightly seed: the same sample every night, so reports compare like with like
    eval_batch_size: int = Field(20, ge=1, le=500)  # chunks per evaluate_batch subtask
    eval_questions_per_llm_call: int = Field(5, ge=1, le=50)
    eval_question_max_tokens: int = Field(1024, ge=32)
    # Alert when hit_rate@k falls by at least this much (absolute, 0..1) from the previous report.
    eval_drop_threshold: float = Field(0.1, gt=0, le=1)
    # Absolute floor: a finished report whose hit_rate@k (any k) is below it alerts, whatever came
    # before (a slow drift that never drops by the threshold in one night). 0 = no floor.
    eval_min_hit_rate: float = Field(0.0, ge=0, le=1)
    eval_nightly_hour: int = Field(2, ge=0, le=23)
    eval_nightly_minute: int = Field(0, ge=0, le=59)
    # Wall time one evaluate_batch task may spend before it saves its rows and hands the rest of
    # its batch to a fresh task; capped at half of RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS, so one
    # more question (LLM call + retriever attempts) still ends well before the soft limit.
    eval_batch_time_budget_seconds: float = Field(240.0, gt=0)
    # Retriever under evaluation: the RAG service's own endpoint (http) or a built-in one.
    retriever: Literal["http", "bm25", "vector"] = "bm25"
    retriever_url: str | None = None
    retriever_auth_header: SecretStr | None = None  # "Name: value", or a bare value sent as Authorization
    retriever_top_k: int = Field(10, ge=1, le=1000)  # asked depth: max(this, largest k of the evaluation)
    retriever_ids_field: str = "ids"  # dotted path to the chunk ids in the JSON answer: "ids", "results.*.chunk_id"
    retriever_timeout_seconds: float = Field(10.0, gt=0)
    retriever_max_attempts: int = Field(3, ge=1, le=10)
    # Near-duplicate merging (MinHash Jaccard estimate over word 3-shingles).
    dedup_threshold: float = Field(0.9, gt=0, le=1)
    # Vector index: a Qdrant server if set, else embedded local mode (":memory:" or a directory).
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_path: str | None = None
    # Embeddings: an OpenAI-compatible endpoint if set, else the offline default.
    embeddings_base_url: str | None = None
    embeddings_api_key: SecretStr | None = None
    embeddings_model: str = "text-embedding-3-small"
    embeddings_offline: Literal["hashing", "minilm"] = "hashing"
    embeddings_dimension: int = Field(384, ge=8, le=4096)  # of the hashing embedder

    @property
    def effective_eval_batch_time_budget_seconds(self) -> float:
        return min(self.eval_batch_time_budget_seconds, self.task_soft_time_limit_seconds / 2)

    def retriever_problem(self) -> str | None:
        """Why the configured retriever cannot work, or None (checked by the gateway and the worker)."""
        if self.retriever == "http" and not self.retriever_url:
            return "RAGTASKS_RETRIEVER=http needs RAGTASKS_RETRIEVER_URL (the RAG service's retrieval endpoint)"
        return None

    @field_validator("eval_kbs", "eval_k", mode="before")
    @classmethod
    def _split_eval_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("retriever_url", "qdrant_url", "qdrant_path", "embeddings_base_url", mode="before")
    @classmethod
    def _evaluator_empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    # --- alerter settings (issue: alerter) ---
    # Delivery channels. Both URLs carry secrets (the WeCom robot key): never logged or returned.
    # The worker reads them at delivery time, so a fixed key takes effect on the next (re)delivery.
    wecom_webhook_url: SecretStr | None = None
    alert_webhook_url: SecretStr | None = None  # generic JSON channel (Slack/Feishu/DingTalk bridges)
    # WeCom allows 20 messages a minute per robot; shared by every alerter replica through Redis.
    wecom_rate_limit: str = "20/m"
    # errcode 45009 (frequency limit): wait at least this long before the next try.
    wecom_rate_limited_retry_seconds: float = Field(60.0, ge=0)
    # errcode -1 (busy), HTTP 5xx, timeouts, connection errors: this many retries with backoff.
    alert_max_retries: int = Field(4, ge=0, le=50)
    alert_retry_base_seconds: float = Field(2.0, gt=0)
    alert_retry_max_seconds: float = Field(300.0, gt=0)
    alert_http_timeout_seconds: float = Field(10.0, gt=0)
    # A delivery waits in-process this long for a rate-limiter slot, then re-queues itself.
    alert_rate_limit_max_wait_seconds: float = Field(5.0, ge=0)
    # Alertmanager-style notification policy.
    alert_group_wait_seconds: float = Field(30.0, ge=0)
    alert_repeat_interval_seconds: float = Field(14_400.0, gt=0)
    # A task-failure alert resolves by itself after this long without a new failure.
    alert_resolve_timeout_seconds: float = Field(3_600.0, gt=0)
    # Beat runs the periodic flush (due groups, rule clearing, stuck deliveries) this often.
    alert_flush_interval_seconds: float = Field(30.0, gt=0)
    # Language of the alert message templates (headline, status, times); times are in RAGTASKS_TIMEZONE.
    alert_language: Literal["zh", "en"] = "zh"
    # Hosts (comma-separated, optionally host:port, e.g. your Grafana) whose links in alert text are
    # rendered as links; any other link, image or autolink reaches the group as plain, defanged text.
    alert_link_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Receivers, routes, inhibit rules and quiet hours (YAML, docs/alerter.md); unset: one robot as
    # configured above. The alerter and the gateway validate it at start-up.
    alert_routes_file: str | None = None
    # Empty-retrieval rule: fire when empties in the window reach THRESHOLD, or their ratio reaches
    # RATIO with at least MIN_EVENTS events; no second firing of a KB within COOLDOWN.
    empty_retrieval_threshold: int = Field(50, ge=1)
    empty_retrieval_window_seconds: int = Field(300, ge=1, le=86_400)
    empty_retrieval_min_events: int = Field(20, ge=1)
    empty_retrieval_ratio: float = Field(0.5, gt=0, le=1)
    empty_retrieval_cooldown_seconds: int = Field(900, ge=0)
    max_retrieval_events_per_request: int = Field(1000, ge=1, le=10_000)
    # The `kb` label of the retrieval metrics takes the first this-many KBs a gateway process
    # sees; later ones are counted as `other` (kb_id comes from callers: bounded cardinality).
    metrics_max_kbs: int = Field(100, ge=1, le=100_000)

    @field_validator("wecom_rate_limit")
    @classmethod
    def _check_wecom_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("wecom_webhook_url", "alert_webhook_url", "alert_routes_file", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("alert_link_hosts", mode="before")
    @classmethod
    def _split_link_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        # Fail at start-up, not when beat schedules or an alert renders a time.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from exc
        return value

    # --- publishing / outbox settings (issue: publishing) ---
    # Beat runs the outbox sweep this often; it publishes what was recorded but not published
    # (broker down) once the record is older than the grace period.
    outbox_sweep_interval_seconds: float = Field(60.0, gt=0)
    outbox_grace_seconds: float = Field(5.0, ge=0)
    # A summary published but still pending after this long is published again (same task id).
    outbox_stale_pending_seconds: float = Field(900.0, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    # How long a producer (gateway, beat) waits for the broker to confirm a publish before it
    # leaves the record to the outbox sweep: short, so an append never hangs on a dead broker.
    publish_timeout_seconds: float = Field(1.5, gt=0, le=30)
    # Tests and demos only: run beat's "evaluator-nightly" entry every N seconds instead of daily at
    # RAGTASKS_EVAL_NIGHTLY_HOUR:MINUTE (unset: daily). Each run is still a real nightly run.
    eval_nightly_interval_seconds: float | None = Field(None, gt=0)

    log_level: str = "INFO"
    log_json: bool = True

    _api_key_entries: list[ApiKey] = PrivateAttr(default_factory=list)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("docs_enabled", "metrics_host", mode="before")
    @classmethod
    def _empty_exposure_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _name_the_keys(self) -> Settings:
        entries = [key.get_secret_value() for key in self.api_keys]
        if not entries and self.environment == "development":
            entries = [DEV_API_KEY]
        self._api_key_entries = parse_api_keys(entries)
        self.api_keys = [key.token for key in self._api_key_entries]
        return self

    @field_validator("llm_rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("llm_base_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "summary_trigger_messages",
        "summary_keep_recent_tokens",
        "summary_prompt_file",
        "session_retention_days",
        mode="before",
    )
    @classmethod
    def _empty_summary_option_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _split_sentinels(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("redis_sentinel_master", "redis_sentinel_password", mode="before")
    @classmethod
    def _empty_sentinel_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _sentinels_need_master(self) -> Settings:
        if self.redis_sentinels and not self.redis_sentinel_master:
            raise ValueError(
                "RAGTASKS_REDIS_SENTINELS needs RAGTASKS_REDIS_SENTINEL_MASTER (the monitored master's name)"
            )
        return self

    @model_validator(mode="after")
    def _secrets_outside_dev(self) -> Settings:
        if self.task_time_limit_seconds <= self.task_soft_time_limit_seconds:
            raise ValueError("task_time_limit_seconds must exceed task_soft_time_limit_seconds")
        if self.environment == "development":
            return self
        if not self.api_key_entries:
            raise ValueError("RAGTASKS_API_KEYS must hold real bearer tokens when RAGTASKS_ENVIRONMENT=production")
        for key in self.api_key_entries:
            problem = secret_problem(key.token.get_secret_value())
            if problem:
                raise ValueError(
                    f"RAGTASKS_API_KEYS: the token of key {key.name!r} {problem}; production needs random "
                    "tokens (e.g. `openssl rand -hex 24`)"
                )
        if self.llm_base_url and not self.llm_api_key:
            raise ValueError("RAGTASKS_LLM_API_KEY is required when RAGTASKS_LLM_BASE_URL is set in production")
        problem = secret_problem(self.llm_api_key.get_secret_value()) if self.llm_api_key else None
        if problem:
            raise ValueError(f"RAGTASKS_LLM_API_KEY {problem} (RAGTASKS_ENVIRONMENT=production)")
        problem = broker_credentials_problem(self.broker_url)
        if problem:
            raise ValueError(f"RAGTASKS_BROKER_URL {problem} when RAGTASKS_ENVIRONMENT=production")
        for name in ("broker_url", "mongodb_url", "result_backend", "redis_url"):
            url = getattr(self, name)
            problem = url_password_problem(url) if url else None
            if problem:
                raise ValueError(f"RAGTASKS_{name.upper()}: its {problem} (RAGTASKS_ENVIRONMENT=production)")
        # The built-in Mongo and Redis URLs are a developer's laptop: production names its own.
        for name in ("mongodb_url", "result_backend"):
            if name not in self.model_fields_set:
                raise ValueError(f"RAGTASKS_{name.upper()} must be set explicitly when RAGTASKS_ENVIRONMENT=production")
        # The robot's rule: after 45009 wait at least a minute (tests shorten it in development).
        if self.wecom_rate_limited_retry_seconds < 60:
            raise ValueError("RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS must be at least 60 in production")
        return self

    # Derived values -------------------------------------------------------------------------
    @property
    def api_key_entries(self) -> list[ApiKey]:
        """The keys with their names and scopes (``api_keys`` holds their tokens only)."""
        if [k.token for k in self._api_key_entries] != self.api_keys:  # replaced after validation
            self._api_key_entries = parse_api_keys([k.get_secret_value() for k in self.api_keys])
        return self._api_key_entries

    @property
    def docs_on(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.environment == "development"

    @property
    def effective_metrics_host(self) -> str:
        if self.metrics_host:
            return self.metrics_host
        return "127.0.0.1" if self.environment == "development" else "0.0.0.0"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or self.result_backend

    @property
    def llm_rate(self) -> tuple[float, float]:
        return parse_rate(self.llm_rate_limit)

    def concurrency_for(self, worker: str) -> int:
        return int(getattr(self, f"{worker}_concurrency"))

    def metrics_port_for(self, component: str) -> int:
        return int(getattr(self, f"{component}_metrics_port"))
