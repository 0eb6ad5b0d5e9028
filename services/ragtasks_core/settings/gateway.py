"""The gateway: API keys, what it exposes, and the size and time limits of a request."""

from __future__ import annotations

from typing import Self

from pydantic import Field, PrivateAttr, SecretStr, model_validator

from ..api_keys import ApiKey, parse_api_keys
from .environment import EnvironmentSettings
from .transforms import BlankIsNone, CommaList

DEV_API_KEY = "dev-key"


class GatewaySettings(EnvironmentSettings):
    # Bearer keys, comma-separated: TOKEN, NAME:TOKEN or NAME:TOKEN:read+write+admin
    # (ragtasks_core/api_keys.py). After validation this holds the tokens; api_key_entries the keys.
    api_keys: CommaList[SecretStr] = Field(default_factory=list)
    # Confine each named key to the sessions, KBs, evaluations and alerts it created (404 for others).
    api_key_isolation: bool = False
    # Serve /docs, /redoc and /openapi.json (unset: on in development, off in production).
    docs_enabled: BlankIsNone[bool | None] = None
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
    # Knowledge base ingestion limits (POST /v1/kbs/{kb_id}/chunks).
    kb_max_chunks_per_request: int = Field(500, ge=1)
    kb_max_chunk_chars: int = Field(20_000, ge=1)

    _api_key_entries: list[ApiKey] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _name_the_keys(self) -> Self:
        entries = [key.get_secret_value() for key in self.api_keys]
        if not entries and self.environment == "development":
            entries = [DEV_API_KEY]
        self._api_key_entries = parse_api_keys(entries)
        self.api_keys = [key.token for key in self._api_key_entries]
        return self

    @property
    def api_key_entries(self) -> list[ApiKey]:
        """The keys with their names and scopes (``api_keys`` holds their tokens only)."""
        if [k.token for k in self._api_key_entries] != self.api_keys:  # replaced after validation
            self._api_key_entries = parse_api_keys([k.get_secret_value() for k in self.api_keys])
        return self._api_key_entries

    @property
    def docs_on(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.environment == "development"
