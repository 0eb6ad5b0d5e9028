"""The one publish-after-write step (``outbox.publish_after_write`` and its async twin): publish,
then mark; on a failed publish the written state stands (``failed`` is told, nothing is marked),
and without ``failed`` the error reaches the caller (the outbox sweep stops there)."""

from __future__ import annotations

import asyncio

import pytest

from ragtasks_core.outbox import publish_after_write, publish_after_write_async


class Refused(Exception):
    pass


def _broker(refuse: bool, log: list[str]) -> None:
    log.append("send")
    if refuse:
        raise Refused("broker away")


def test_published_then_marked() -> None:
    log: list[str] = []
    assert publish_after_write(lambda: _broker(False, log), lambda: log.append("mark"))
    assert log == ["send", "mark"]


def test_a_failed_publish_is_told_and_never_marked() -> None:
    log: list[str] = []
    told: list[Exception] = []
    assert not publish_after_write(lambda: _broker(True, log), lambda: log.append("mark"), failed=told.append)
    assert log == ["send"] and isinstance(told[0], Refused)


def test_without_failed_the_error_reaches_the_caller() -> None:
    log: list[str] = []
    with pytest.raises(Refused):
        publish_after_write(lambda: _broker(True, log), lambda: log.append("mark"))
    assert log == ["send"]


def test_async_twin_counts_only_the_given_errors() -> None:
    log: list[str] = []
    told: list[Exception] = []

    async def send(refuse: bool) -> None:
        _broker(refuse, log)

    async def mark() -> None:
        log.append("mark")

    async def failed(exc: Exception) -> None:
        told.append(exc)

    async def run() -> None:
        assert await publish_after_write_async(lambda: send(False), mark, failed=failed, errors=(Refused,))
        assert not await publish_after_write_async(lambda: send(True), mark, failed=failed, errors=(Refused,))
        # Not a publish failure (a bug, Mongo down): it propagates even with ``failed`` given.
        with pytest.raises(Refused):
            await publish_after_write_async(lambda: send(True), mark, failed=failed, errors=(TimeoutError,))

    asyncio.run(run())
    assert log == ["send", "mark", "send", "send"] and len(told) == 1
