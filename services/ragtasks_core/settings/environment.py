"""Which kind of deployment this is: the defaults and guards that differ in production read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class EnvironmentSettings(BaseModel):
    environment: Literal["development", "production"] = "development"
