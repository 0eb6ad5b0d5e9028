"""Helpers every Celery task shares: payload validation before any work."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from celery.exceptions import Reject
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)
P = TypeVar("P", bound=BaseModel)


def parse_payload(model: type[P], kwargs: dict[str, Any]) -> P:
    """Validate a payload; an invalid one is rejected to the dead-letter queue, never retried."""
    try:
        return model.model_validate(kwargs)
    except ValidationError as exc:
        reason = f"invalid {model.__name__} payload: {exc.errors(include_url=False, include_input=False)}"
        log.warning("rejecting task: %s", reason)
        raise Reject(reason, requeue=False) from exc
