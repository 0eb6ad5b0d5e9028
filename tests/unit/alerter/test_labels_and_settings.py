"""The bound on caller-supplied metric labels, and the alerter's documented setting defaults."""

from __future__ import annotations

import threading

import pytest

from ragtasks_core.alerting.labels import OTHER, BoundedLabel
from ragtasks_core.settings import Settings, parse_rate


def test_first_kbs_keep_their_label_later_ones_are_other() -> None:
    label = BoundedLabel(3)
    assert [label(kb) for kb in ["kb-a", "kb-b", "kb-a", "kb-c"]] == ["kb-a", "kb-b", "kb-a", "kb-c"]
    assert [label(kb) for kb in ["kb-d", "kb-e"]] == [OTHER, OTHER]
    assert [label(kb) for kb in ["kb-c", "kb-a"]] == ["kb-c", "kb-a"]  # known ones stay themselves
    assert len(label) == 3


def test_bound_holds_under_concurrent_callers() -> None:
    label = BoundedLabel(100)
    results: list[str] = []
    lock = threading.Lock()

    def caller(offset: int) -> None:
        mine = [label(f"kb-{offset}-{i}") for i in range(200)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(label) == 100
    assert len({r for r in results if r != OTHER}) == 100 and results.count(OTHER) == 700


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BoundedLabel(0)


def test_alerter_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAGTASKS_WECOM_RATE_LIMIT", "RAGTASKS_METRICS_MAX_KBS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    # WeCom allows 20 messages a minute per robot.
    assert settings.wecom_rate_limit == "20/m"
    assert parse_rate(settings.wecom_rate_limit) == (20, 60.0)
    assert settings.metrics_max_kbs == 100
    monkeypatch.setenv("RAGTASKS_METRICS_MAX_KBS", "5")
    assert Settings().metrics_max_kbs == 5
