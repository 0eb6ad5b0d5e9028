"""Nightly maintenance (duplicates merged, vector index aligned), evaluations after it; beat lock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.conftest import LOG_DIR
from tests.integration.evaluator.helpers import LEE, load_kb, wait_evaluation
from tests.integration.helpers import auth
from tests.support.procs import metric_value, metrics_text, start_beat, wait_until


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_nightly_merges_duplicates_aligns_index_then_evaluates(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, celery_client: Any, db: Any
) -> None:
    env = {**worker_env, "RAGTASKS_EVAL_SAMPLE_SIZE": "10", "RAGTASKS_DEDUP_THRESHOLD": "0.8"}
    worker = start_worker("evaluator", env, concurrency=1)
    base = LEE[:20]
    words = base[3]["text"].split()
    near = " ".join([*words[:-1], "changed"])  # one word of ~100 differs
    extra = [
        {"chunk_id": "zz-exact", "text": "  " + base[2]["text"].replace(" ", "  "), "doc_id": "copy"},
        {"chunk_id": "zz-near", "text": near, "doc_id": "copy"},
    ]
    load_kb(api, "kbn", base + extra)

    first = celery_client.send_task(TaskName.NIGHTLY.value, kwargs={"kb_ids": ["kbn", "ghost"]}).get(timeout=60)
    day = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert first["evaluations"] == [f"nightly-{day}-kbn"]
    kb = api.get("/v1/kbs/kbn", headers=auth()).json()
    assert (kb["chunks"], kb["active_chunks"], kb["merged_chunks"]) == (22, 20, 2)
    m = kb["last_maintenance"]
    assert (m["merged_exact"], m["merged_near"]) == (1, 1)
    assert m["index"]["upserted"] == 20 and m["index"]["deleted"] == 0 and m["index"]["backend"] == "qdrant-local"
    keeper_2 = db.kb_chunks.find_one({"kb_id": "kbn", "chunk_id": base[2]["chunk_id"]})
    merged = db.kb_chunks.find_one({"kb_id": "kbn", "chunk_id": "zz-exact"})
    assert keeper_2["merged_ids"] == ["zz-exact"] and merged["merged_into"] == base[2]["chunk_id"]
    assert merged["text"].strip()  # never lose the text

    report = wait_evaluation(api, f"nightly-{day}-kbn")
    assert report["status"] == "done" and report["trigger"] == "nightly" and report["progress"]["total"] == 10

    # Again: nothing to merge, nothing to re-embed, the same evaluation (not a second one).
    second = celery_client.send_task(TaskName.NIGHTLY.value, kwargs={"kb_ids": ["kbn"]}).get(timeout=60)
    assert second["evaluations"] == first["evaluations"]
    m2 = api.get("/v1/kbs/kbn", headers=auth()).json()["last_maintenance"]
    assert m2["changed"] == 0 and m2["index"]["upserted"] == 0 and m2["index"]["unchanged"] == 20
    assert len(api.get("/v1/evaluations", params={"kb_id": "kbn"}, headers=auth()).json()["evaluations"]) == 1
    text = metrics_text(worker.port)
    assert metric_value(text, "ragtasks_periodic_task_last_success_timestamp_seconds", {"task": TaskName.NIGHTLY}) > 0


def test_a_second_beat_waits_while_one_holds_the_lock(base_env: dict[str, str], processes: list[Any]) -> None:
    first = start_beat(base_env, LOG_DIR)
    processes.append(first)
    wait_until(lambda: "acquired beat lock" in first.log_text(), 30, 0.2, "the first beat to take the lock")
    second = start_beat(base_env, LOG_DIR)
    processes.append(second)
    wait_until(lambda: "waiting as standby" in second.log_text(), 30, 0.2, "the second beat to stand by")
    assert "acquired beat lock" not in second.log_text()
    assert second.alive()
    first.stop()
    wait_until(lambda: "acquired beat lock" in second.log_text(), 30, 0.2, "the standby to take over")
    assert re.search(r"acquired beat lock \S+:beat:lock", second.log_text())
