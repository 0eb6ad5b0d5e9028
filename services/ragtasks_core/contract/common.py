"""Pieces every payload shares: the version field, the id pattern and the datetime type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, StringConstraints

from .safe_json import SafeModel

PAYLOAD_VERSION: Literal[1] = 1
# Ids are plain strings: letters, digits and ``._:-``. This also shuts out Mongo operator
# injection (``{"$gt": ""}`` is not a string, ``$gt`` does not match).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a time without zone is UTC already (as Mongo and Celery read one).

    Python's datetimes stop at years 1 and 9999: ``9999-12-31T23:59:59-01:00`` parses but has no
    UTC form, and PyMongo's encoder would fail on it later (a 500, or a task that never runs)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: in UTC the time must fall within the years 1 to 9999") from None


# Every datetime the API or a payload takes: aware, in UTC, storable. A time without zone is UTC.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
# The same where a time without zone is refused (a silence's span, as Alertmanager's API does).
ZonedUtcDatetime = Annotated[AwareDatetime, AfterValidator(as_utc)]


class Payload(SafeModel):
    """Base of every task payload: strict, versioned, no unknown fields, and the one JSON rule of
    ``safe_json`` (finite numbers, int64, no lone surrogate or NUL, bounded nesting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = PAYLOAD_VERSION
