"""The contract's datetime types: every datetime the API or a payload takes is aware, in UTC and
within what Python (and BSON through PyMongo) can hold once converted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import bson
import pytest
from pydantic import BaseModel, ValidationError

from ragtasks_core.contract.common import UtcDatetime, ZonedUtcDatetime


class At(BaseModel):
    at: UtcDatetime


class ZonedAt(BaseModel):
    at: ZonedUtcDatetime


@pytest.mark.parametrize("model", [At, ZonedAt])
def test_a_zoned_time_is_converted_to_utc(model: type[At] | type[ZonedAt]) -> None:
    value = model.model_validate({"at": "2026-03-01T08:30:00+08:00"}).at
    assert value == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)


def test_a_time_without_zone_is_utc() -> None:
    assert At.model_validate({"at": "2026-03-01T08:30:00"}).at == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def test_the_zoned_type_refuses_a_time_without_zone() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ZonedAt.model_validate({"at": "2026-03-01T08:30:00"})


@pytest.mark.parametrize("model", [At, ZonedAt])
@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_time_outside_years_1_to_9999_in_utc_is_a_validation_error(
    model: type[At] | type[ZonedAt], text: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"at": text})
    (error,) = caught.value.errors()
    assert error["loc"] == ("at",) and "years 1 to 9999" in error["msg"]


@pytest.mark.parametrize("model", [At, ZonedAt])
def test_the_edges_that_fit_are_kept_and_storable(model: type[At] | type[ZonedAt]) -> None:
    late = model.model_validate({"at": "9999-12-31T22:59:59-01:00"}).at
    early = model.model_validate({"at": datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))}).at
    assert (late, early) == (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC))
    assert bson.decode(bson.encode({"late": late, "early": early})) == {
        "late": late.replace(tzinfo=None),
        "early": early.replace(tzinfo=None),
    }
