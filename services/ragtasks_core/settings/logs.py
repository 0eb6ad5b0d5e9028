"""Logging of every process (ragtasks_core/logs.py)."""

from __future__ import annotations

from pydantic import BaseModel


class LoggingSettings(BaseModel):
    log_level: str = "INFO"
    log_json: bool = True
