"""Issue 15's exposure settings: the secret-strength guard, named keys, docs and metrics hosts."""

from __future__ import annotations

import os
import random
import secrets
import string

import pytest
from pydantic import ValidationError

from ragtasks_core.api_keys import ALL_SCOPES, authenticate, parse_api_keys, required_scope
from ragtasks_core.secrets_check import secret_problem
from ragtasks_core.settings import Settings

from .test_settings import PRODUCTION, REAL_KEY, REAL_PASSWORD, production


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("RAGTASKS_"):
            monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("aaaaaaaaaaaaaaaa", "distinct characters"),
        ("changeme-changeme", "placeholder"),
        ("password1234567890", "placeholder"),
        ("Password123!Password123!", "placeholder"),
        ("my-super-secret-token", "placeholder"),
        ("qazwsxedcrfvqazwsxedcrfv", "repeated pattern"),
        ("Zx9!Qw7$Zx9!Qw7$", "repeated pattern"),
        ("k7Qp2mW9k7Qp2mW9x", "repeated pattern"),  # one unit twice, one character tacked on
        ("1111222233334444", "distinct characters"),
        ("short-9fK2", "shorter than 16"),
    ],
)
def test_weak_secrets_are_named(value: str, reason: str) -> None:
    problem = secret_problem(value)
    assert problem is not None and reason in problem
    assert value not in problem  # the message never repeats the secret


def test_random_tokens_pass() -> None:
    # What the docs tell operators to use (openssl rand -hex 24, token_urlsafe(32)): never refused.
    # Seeded, so the check is the same every run.
    rng = random.Random(15)
    urlsafe = string.ascii_letters + string.digits + "-_"
    for _ in range(5000):
        assert secret_problem("".join(rng.choice("0123456789abcdef") for _ in range(48))) is None
        assert secret_problem("".join(rng.choice(urlsafe) for _ in range(43))) is None
    assert secret_problem(secrets.token_urlsafe(32)) is None


@pytest.mark.parametrize("word", ["123456", "admin", "guest", "secret"])
def test_a_placeholder_word_inside_a_long_random_token_is_chance(word: str) -> None:
    assert secret_problem(f"9f4c2e7a1b8d3f60{word}c5e9a2d7b4f18e6c03a") is None
    assert secret_problem(f"{word}-{word}-{word}") is not None


@pytest.mark.parametrize("token", ["aaaaaaaaaaaaaaaa", "changeme-changeme", "abcdabcdabcdabcd"])
def test_production_refuses_low_entropy_api_keys(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    production(monkeypatch, RAGTASKS_API_KEYS=f"{REAL_KEY},ops:{token}:admin")
    with pytest.raises(ValidationError, match="RAGTASKS_API_KEYS: the token of key 'ops'") as info:
        Settings()
    assert token not in str(info.value)


def test_production_refuses_a_placeholder_llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, RAGTASKS_LLM_BASE_URL="http://llm.internal/v1", RAGTASKS_LLM_API_KEY="changeme-changeme")
    with pytest.raises(ValidationError, match="RAGTASKS_LLM_API_KEY looks like a placeholder"):
        Settings()


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("RAGTASKS_BROKER_URL", "amqp://ragtasks:changeme-changeme@rabbitmq:5672/ragtasks"),
        ("RAGTASKS_BROKER_URL", f"amqp://ragtasks:{REAL_PASSWORD}@a:5672//;amqp://ragtasks:password123@b:5672//"),
        ("RAGTASKS_MONGODB_URL", "mongodb://ragtasks:aaaaaaaaaaaaaaaa@mongo:27017/?replicaSet=rs0"),
        ("RAGTASKS_RESULT_BACKEND", "redis://:s3cret@redis:6379/0"),
        ("RAGTASKS_REDIS_URL", "redis://:password123password123@redis:6379/1"),
    ],
)
def test_production_refuses_weak_passwords_inside_urls(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str
) -> None:
    production(monkeypatch, **{variable: url})
    with pytest.raises(ValidationError, match=f"{variable}: its password") as info:
        Settings()
    assert "changeme-changeme" not in str(info.value) and "password123" not in str(info.value)


def test_production_accepts_urls_without_passwords_for_mongo_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-cluster Redis without AUTH is the operator's choice; only a weak password is refused.
    production(monkeypatch, RAGTASKS_RESULT_BACKEND="redis://redis:6379/0")
    assert Settings().result_backend == "redis://redis:6379/0"


def test_named_keys_with_scopes() -> None:
    keys = parse_api_keys(["bare-token-one", "ingest:tok-2:write", "ops:tok-3:read+write+admin", "viewer:tok-4"])
    assert [(k.name, sorted(k.scopes)) for k in keys] == [
        ("key-1", sorted(ALL_SCOPES)),  # a bare token keeps every right it had
        ("ingest", ["write"]),
        ("ops", ["admin", "read", "write"]),
        ("viewer", sorted(ALL_SCOPES)),
    ]
    assert "tok-2" not in repr(keys)  # tokens are SecretStr: never in a repr or a log


@pytest.mark.parametrize(
    ("entries", "needle"),
    [
        (["a:t1", "a:t2"], "used twice"),
        (["a:t1", "b:t1"], "share a token"),
        (["a:t1:read+delete"], "unknown scopes"),
        (["a:t1:"], "unknown scopes"),
        (["a:"], "empty token"),
        ([":t1"], "needs a name"),
        (["anonymous:t1"], "needs a name"),
        (["a:b:read:extra"], "more than NAME:TOKEN:SCOPES"),
    ],
)
def test_bad_key_entries_are_refused(entries: list[str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_api_keys(entries)


def test_settings_hold_the_tokens_and_the_named_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_API_KEYS", "plain-token-0001, ingest:ingest-token-0002:write")
    settings = Settings()
    assert [k.get_secret_value() for k in settings.api_keys] == ["plain-token-0001", "ingest-token-0002"]
    assert [(k.name, k.scopes) for k in settings.api_key_entries] == [
        ("key-1", ALL_SCOPES),
        ("ingest", frozenset({"write"})),
    ]
    monkeypatch.setenv("RAGTASKS_API_KEYS", "x:y:z:w")
    with pytest.raises(ValidationError, match="RAGTASKS_API_KEYS"):
        Settings()


def test_development_dev_key_is_named_key_1() -> None:
    assert [(k.name, k.token.get_secret_value()) for k in Settings().api_key_entries] == [("key-1", "dev-key")]


def test_docs_are_off_by_default_in_production_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().docs_on is True
    production(monkeypatch)
    assert Settings().docs_on is False
    monkeypatch.setenv("RAGTASKS_DOCS_ENABLED", "true")
    assert Settings().docs_on is True


def test_metrics_host_defaults_per_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().effective_metrics_host == "127.0.0.1"
    production(monkeypatch)
    assert Settings().effective_metrics_host == "0.0.0.0"
    monkeypatch.setenv("RAGTASKS_METRICS_HOST", "10.0.0.7")
    assert Settings().effective_metrics_host == "10.0.0.7"
    assert PRODUCTION["RAGTASKS_ENVIRONMENT"] == "production"


def test_authenticate_finds_the_presented_key() -> None:
    keys = parse_api_keys(["bare-token-one", "ingest:tok-2:write"])
    assert authenticate(keys, "Bearer tok-2") == keys[1]
    assert authenticate(keys, "bearer  bare-token-one ") == keys[0]
    for header in (None, "", "Bearer", "Basic tok-2", "Bearer tok-", "Bearer tok-22"):
        assert authenticate(keys, header) is None, header


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/sessions/s1/context", "read"),
        ("HEAD", "/v1/alerts", "read"),
        ("POST", "/v1/sessions/s1/messages", "write"),
        ("POST", "/v1/kbs/kb1/chunks", "write"),
        ("DELETE", "/v1/sessions/s1", "admin"),
        ("GET", "/v1/dlq/summarizer", "admin"),
        ("POST", "/v1/alerts/a1/redeliver", "admin"),
        ("POST", "/v1/alerts/silences", "admin"),
        ("GET", "/v1/alerts/silences", "admin"),
        ("PUT", "/v1/silences/x1", "admin"),
        ("GET", "/v1/sessions/dlq/context", "read"),  # a session that happens to be called "dlq"
        ("GET", "/v1/kbs/silences", "read"),
    ],
)
def test_required_scope(method: str, path: str, scope: str) -> None:
    assert required_scope(method, path) == scope
