"""Typed settings, read once from ``RAGTASKS_*`` environment variables and passed in.

Nothing here is a global: ``Settings()`` builds a fresh object so tests (and each process)
can build their own. Secrets have working defaults only in development mode.

One module per topic holds that topic's fields (a mixin), its checks and derived values;
``transforms`` holds what turns an environment string into a value (comma lists, blank = unset,
rates, time zones), written once and attached to a field by its type. ``Settings`` below puts the
topics together and holds the checks that span several of them (the production guard).
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..secrets_check import secret_problem, url_password_problem
from .alerter import AlerterSettings
from .evaluator import EvaluatorSettings
from .gateway import DEV_API_KEY, GatewaySettings
from .llm import LlmSettings
from .logs import LoggingSettings
from .outbox import OutboxSettings
from .retrieval_events import RetrievalEventSettings
from .stores import StoreSettings, broker_credentials_problem
from .summaries import SummarySettings
from .transforms import parse_rate
from .workers import WORKER_NAMES, WorkerSettings

__all__ = ["DEV_API_KEY", "WORKER_NAMES", "Settings", "broker_credentials_problem", "parse_rate"]


class Settings(
    LoggingSettings,
    OutboxSettings,
    RetrievalEventSettings,
    AlerterSettings,
    EvaluatorSettings,
    WorkerSettings,
    SummarySettings,
    StoreSettings,
    LlmSettings,
    GatewaySettings,
    BaseSettings,
):
    """Every knob of ragtasks. Env var = ``RAGTASKS_`` + the upper-case field name."""

    # hide_input_in_errors: a refused setting's error must not echo the environment (secrets) into logs.
    model_config = SettingsConfigDict(
        env_prefix="RAGTASKS_", extra="ignore", validate_default=True, hide_input_in_errors=True
    )

    @model_validator(mode="after")
    def _secrets_outside_dev(self) -> Self:
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

    @property
    def effective_eval_batch_time_budget_seconds(self) -> float:
        return min(self.eval_batch_time_budget_seconds, self.task_soft_time_limit_seconds / 2)
