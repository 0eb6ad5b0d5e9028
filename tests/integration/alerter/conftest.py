"""Fixtures of the alerter's integration tests: the fake WeCom robot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_wecom import FakeWeCom


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    server = FakeWeCom().start()
    yield server
    server.stop()
