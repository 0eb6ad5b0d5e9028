"""Settings: rate parsing and refusing development secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragtasks_core.settings import DEV_API_KEY, Settings, parse_rate

# Random-looking values (what `openssl rand -hex` gives): the production guard checks their entropy.
REAL_KEY = "9f4c2e7a1b8d3f60c5e9a2d7"
OTHER_KEY = "Zq7vN2kR8xT4mW1pL6sJ"
REAL_PASSWORD = "u7Hk2pQx9Lm4Rt8Wz3"
PRODUCTION = {
    "RAGTASKS_ENVIRONMENT": "production",
    "RAGTASKS_API_KEYS": REAL_KEY,
    "RAGTASKS_BROKER_URL": f"amqp://ragtasks:{REAL_PASSWORD}@rabbitmq:5672/ragtasks",
    "RAGTASKS_RESULT_BACKEND": f"redis://:{REAL_PASSWORD}@redis:6379/0",
    "RAGTASKS_MONGODB_URL": f"mongodb://ragtasks:{REAL_PASSWORD}@mongo:27017/?replicaSet=rs0",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("RAGTASKS_"):
            monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10/m", (10.0, 60.0)), ("2/s", (2.0, 1.0)), ("100/h", (100.0, 3600.0)), (" 0.5 / s ", (0.5, 1.0))],
)
def test_parse_rate(text: str, expected: tuple[float, float]) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "10", "10/d", "ten/m", "0/m", "-1/s", "10 per minute"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_bad_rate_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_LLM_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError, match="rate must look like"):
        Settings()


def test_development_gets_the_dev_key() -> None:
    settings = Settings()
    assert [k.get_secret_value() for k in settings.api_keys] == [DEV_API_KEY]
    assert settings.llm_rate == (10.0, 60.0)


def test_api_keys_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_API_KEYS", f" {REAL_KEY}, {OTHER_KEY} ,")
    assert [k.get_secret_value() for k in Settings().api_keys] == [REAL_KEY, OTHER_KEY]


def production(monkeypatch: pytest.MonkeyPatch, **overrides: str | None) -> None:
    """A valid production environment, with ``overrides`` (None = unset that variable)."""
    for key, value in {**PRODUCTION, **overrides}.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


@pytest.mark.parametrize("keys", [None, DEV_API_KEY, "short", f"{REAL_KEY},{DEV_API_KEY}"])
def test_production_refuses_placeholder_keys(monkeypatch: pytest.MonkeyPatch, keys: str | None) -> None:
    production(monkeypatch, RAGTASKS_API_KEYS=keys)
    with pytest.raises(ValidationError, match="RAGTASKS_API_KEYS"):
        Settings()


def test_production_requires_llm_key_with_llm_url(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    monkeypatch.setenv("RAGTASKS_LLM_BASE_URL", "http://llm.internal/v1")
    with pytest.raises(ValidationError, match="RAGTASKS_LLM_API_KEY"):
        Settings()
    monkeypatch.setenv("RAGTASKS_LLM_API_KEY", "sk-proj-" + OTHER_KEY)
    assert Settings().llm_base_url == "http://llm.internal/v1"


def test_production_with_real_keys_and_offline_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, RAGTASKS_LLM_BASE_URL="")
    settings = Settings()
    assert settings.llm_base_url is None
    assert settings.broker_url == PRODUCTION["RAGTASKS_BROKER_URL"]


@pytest.mark.parametrize(
    ("broker_url", "needle"),
    [
        (None, "guest:guest"),  # the built-in default
        ("amqp://guest:guest@rabbitmq:5672//", "guest:guest"),
        ("amqp://gu%65st:guest@rabbitmq:5672//", "guest:guest"),  # percent-encoded is still guest
        ("amqp://rabbitmq:5672//", "credentials"),
        ("amqp://ragtasks@rabbitmq:5672//", "credentials"),
        # Failover list: every URL is checked.
        (f"amqp://ragtasks:{REAL_PASSWORD}@rabbit-a:5672//;amqp://guest:guest@rabbit-b:5672//", "guest:guest"),
    ],
)
def test_production_refuses_default_broker_credentials(
    monkeypatch: pytest.MonkeyPatch, broker_url: str | None, needle: str
) -> None:
    production(monkeypatch, RAGTASKS_BROKER_URL=broker_url)
    with pytest.raises(ValidationError, match="RAGTASKS_BROKER_URL") as info:
        Settings()
    assert needle in str(info.value)


@pytest.mark.parametrize("variable", ["RAGTASKS_MONGODB_URL", "RAGTASKS_RESULT_BACKEND"])
def test_production_refuses_default_mongo_and_redis_urls(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    production(monkeypatch, **{variable: None})
    with pytest.raises(ValidationError, match=f"{variable} must be set explicitly"):
        Settings()


def test_production_waits_at_least_a_minute_after_the_robots_frequency_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS="30")
    with pytest.raises(ValidationError, match="RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS must be at least 60"):
        Settings()
    production(monkeypatch, RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS="90")
    assert Settings().wecom_rate_limited_retry_seconds == 90


def test_development_defaults_still_work() -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.mongodb_url.startswith("mongodb://127.0.0.1:27017/")
    assert settings.effective_redis_url == "redis://127.0.0.1:6379/0"


def test_hard_time_limit_must_exceed_soft(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS", "100")
    monkeypatch.setenv("RAGTASKS_TASK_TIME_LIMIT_SECONDS", "100")
    with pytest.raises(ValidationError):
        Settings()


# The shared transforms (ragtasks_core/settings/transforms.py), attached to fields by their types.

BLANK_MEANS_UNSET = [
    "REDIS_SENTINEL_MASTER",
    "REDIS_SENTINEL_PASSWORD",
    "LLM_BASE_URL",
    "EMBEDDINGS_BASE_URL",
    "DOCS_ENABLED",
    "METRICS_HOST",
    "SUMMARY_TRIGGER_MESSAGES",
    "SUMMARY_KEEP_RECENT_TOKENS",
    "SUMMARY_PROMPT_FILE",
    "SESSION_RETENTION_DAYS",
    "RETRIEVER_URL",
    "QDRANT_URL",
    "QDRANT_PATH",
    "WECOM_WEBHOOK_URL",
    "ALERT_WEBHOOK_URL",
    "ALERT_ROUTES_FILE",
]


@pytest.mark.parametrize("name", BLANK_MEANS_UNSET)
def test_a_blank_variable_means_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"RAGTASKS_{name}", "")
    assert getattr(Settings(), name.lower()) is None


def test_comma_lists_are_split_and_hosts_lower_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_EVAL_KBS", " kb-a, 知识库 ,,")
    monkeypatch.setenv("RAGTASKS_EVAL_K", "1, 3,20")
    monkeypatch.setenv("RAGTASKS_REDIS_SENTINELS", "s1:26379, s2:26379")
    monkeypatch.setenv("RAGTASKS_REDIS_SENTINEL_MASTER", "mymaster")
    monkeypatch.setenv("RAGTASKS_ALERT_LINK_HOSTS", "Grafana.Example.COM:3000, ")
    settings = Settings()
    assert settings.eval_kbs == ["kb-a", "知识库"]
    assert settings.eval_k == [1, 3, 20]
    assert settings.redis_sentinels == ["s1:26379", "s2:26379"]
    assert settings.alert_link_hosts == ["grafana.example.com:3000"]


@pytest.mark.parametrize(
    ("variable", "value"), [("RAGTASKS_WECOM_RATE_LIMIT", "0/m"), ("RAGTASKS_TIMEZONE", "Mars/Base")]
)
def test_bad_rates_and_time_zones_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("RAGTASKS_").lower()):
        Settings()


def test_transforms_come_from_field_types_not_per_field_validators() -> None:
    # One transform, written once in settings/transforms.py: no topic grows its own copy again.
    assert Settings.__pydantic_decorators__.field_validators == {}
