"""Where the state lives: the broker, Redis (with Sentinel), RabbitMQ's management API and Mongo."""

from __future__ import annotations

from typing import Self
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator

from .transforms import BlankIsNone, CommaList


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


class StoreSettings(BaseModel):
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    result_backend: str = "redis://127.0.0.1:6379/0"
    # Redis for the rate limiters, sliding windows and locks; defaults to the result backend. Also
    # redis+sentinel://[:password@]host:26379[,host:26379...]/<master>[/<db>] (ragtasks_core/redis_client.py).
    redis_url: str | None = None
    # Redis HA without a redis+sentinel:// URL: the sentinels ("host:26379,host:26379") and the name
    # of the master they monitor. When set, RAGTASKS_REDIS_URL and RAGTASKS_RESULT_BACKEND (redis://)
    # keep their password and db but find their master through these sentinels. The master name
    # also completes a Celery-style sentinel:// result backend.
    redis_sentinels: CommaList[str] = Field(default_factory=list)
    redis_sentinel_master: BlankIsNone[str | None] = None
    # The sentinels' own password (requirepass in sentinel.conf), if they have one.
    redis_sentinel_password: BlankIsNone[SecretStr | None] = None
    # Prefix of every Redis key ragtasks writes (not Celery's own result keys).
    key_prefix: str = "ragtasks"
    # RabbitMQ management API, for queue depth metrics (ready/unacked) and consumers.
    # Default: the broker's host on port 15672 with the broker's credentials.
    rabbitmq_management_url: str | None = None
    mongodb_url: str = "mongodb://127.0.0.1:27017/?retryWrites=false"
    mongodb_db: str = "ragtasks"

    @model_validator(mode="after")
    def _sentinels_need_master(self) -> Self:
        if self.redis_sentinels and not self.redis_sentinel_master:
            raise ValueError(
                "RAGTASKS_REDIS_SENTINELS needs RAGTASKS_REDIS_SENTINEL_MASTER (the monitored master's name)"
            )
        return self

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or self.result_backend
