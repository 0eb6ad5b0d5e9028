"""Alert delivery: the channels (WeCom robot, generic webhook), retries, grouping, routing, language."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from .transforms import BlankIsNone, LowerCommaList, Rate

# The languages alerts are written in: every table of alert wording is keyed by these.
AlertLanguage = Literal["zh", "en"]


class AlerterSettings(BaseModel):
    # Delivery channels. Both URLs carry secrets (the WeCom robot key): never logged or returned.
    # The worker reads them at delivery time, so a fixed key takes effect on the next (re)delivery.
    wecom_webhook_url: BlankIsNone[SecretStr | None] = None
    alert_webhook_url: BlankIsNone[SecretStr | None] = None  # generic JSON channel (Slack/Feishu/DingTalk bridges)
    # WeCom allows 20 messages a minute per robot; shared by every alerter replica through Redis.
    wecom_rate_limit: Rate = "20/m"
    # errcode 45009 (frequency limit): wait at least this long before the next try (production: >= 60).
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
    alert_language: AlertLanguage = "zh"
    # Hosts (comma-separated, optionally host:port, e.g. your Grafana) whose links in alert text are
    # rendered as links; any other link, image or autolink reaches the group as plain, defanged text.
    alert_link_hosts: LowerCommaList = Field(default_factory=list)
    # Receivers, routes, inhibit rules and quiet hours (YAML, docs/alerter.md); unset: one robot as
    # configured above. The alerter and the gateway validate it at start-up.
    alert_routes_file: BlankIsNone[str | None] = None
