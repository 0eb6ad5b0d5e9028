"""``make chaos`` in its short form: one fault of each kind under load, and nothing lost.

The real soak (``make chaos``: ~5 minutes) stays out of ``make test``; this proves the soak still
runs end to end and that its invariants hold under one summarizer child kill, one summarizer
parent kill and restart, one RabbitMQ ``stop_app``/``start_app`` (a few seconds: other runs share
the broker) and one Mongo server restart with its data on disk. Each fault waits for the system
to recover before the next, so the 16 s of load are stretched to whatever the recoveries take.
"""

from __future__ import annotations

import pytest
from benchmarks import chaos

from tests.support.services import Vhost


@pytest.mark.timeout(600)
def test_chaos_soak_short_form_loses_nothing() -> None:
    vhost = Vhost.create()
    try:
        config = chaos.Config(duration=16, sessions=4, alert_every=4, outage_seconds=3, settle_timeout=180)
        report = chaos.run(config, vhost)
    finally:
        vhost.delete()
    print(report)
    assert set(report["recoveries_s"]) == {
        "kill -9 summarizer child #1",
        "kill -9 summarizer parent #1",
        "restart RabbitMQ #1",
        "restart Mongo #1",
    }
    assert report["appends"]["acknowledged"] > 20 and report["alerts"]["accepted"] >= 3, report
    assert report["summaries"]["summaries"] >= report["sessions"], report
    assert report["losses"] == 0 and report["duplicates"] == 0, report
    assert report["sessions_not_summarized_to_the_end"] == [], report
    assert report["max_recovery_s"] < 120, report
    assert report["ok"] is True
