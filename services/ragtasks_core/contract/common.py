"""Pieces every payload shares: the version field and the id pattern."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, StringConstraints

from .safe_json import SafeModel

PAYLOAD_VERSION: Literal[1] = 1
# Ids are plain strings: letters, digits and ``._:-``. This also shuts out Mongo operator
# injection (``{"$gt": ""}`` is not a string, ``$gt`` does not match).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class Payload(SafeModel):
    """Base of every task payload: strict, versioned, no unknown fields, and the one JSON rule of
    ``safe_json`` (finite numbers, int64, no lone surrogate or NUL, bounded nesting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = PAYLOAD_VERSION
