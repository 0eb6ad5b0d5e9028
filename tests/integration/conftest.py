"""Every test under tests/integration talks to the real services.

``make test`` runs them on both cores, a file per pytest-xdist worker (each worker has its own
Mongo server and vhost), except the ``serial`` ones below, which run alone afterwards.
"""

from __future__ import annotations

import pytest

# Files that stop RabbitMQ (stop_app), change its policies or drive a Sentinel failover: what they
# do to the shared broker, or the timing they assert, would spill into a test running beside them.
SERIAL = (
    "tests/integration/gateway/test_hostile_input.py",  # sub-second answers under a 64 MB upload
    "tests/integration/ha/",  # a Redis master killed and a Sentinel failover timed
    "tests/integration/ops/test_chaos_smoke.py",
    "tests/integration/ops/test_periodic_without_summarizer.py",
    "tests/integration/publishing/test_outage.py",
    "tests/integration/publishing/test_publisher_recovery.py",
    "tests/integration/summarizer/test_consumer_timeout.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        if "tests/integration/" not in path:
            continue
        item.add_marker(pytest.mark.integration)
        if any(part in path for part in SERIAL):
            item.add_marker(pytest.mark.serial)
