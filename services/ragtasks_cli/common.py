"""What every command shares: settings read from the environment, with a readable error."""

from __future__ import annotations

from pydantic import ValidationError

from ragtasks_core.logs import setup_logging
from ragtasks_core.settings import Settings


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  RAGTASKS_{'_'.join(str(p) for p in e['loc']).upper() or '(settings)'}: {e['msg']}" for e in exc.errors()
        ]
        raise SystemExit("ragtasks: invalid settings:\n" + "\n".join(lines)) from None


def settings_with_logging() -> Settings:
    """Settings for a long-running process, with its logging set up from them."""
    settings = load_settings()
    setup_logging(settings.log_level, json_output=settings.log_json)
    return settings
