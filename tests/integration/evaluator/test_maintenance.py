"""Nightly maintenance per KB (duplicates merged, vector index aligned), each KB's evaluation after it; beat lock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import Queue, TaskName
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.conftest import LOG_DIR
from tests.integration.evaluator.helpers import LEE, drain_tasks, load_kb, wait_evaluation
from tests.integration.helpers import auth
from tests.support.procs import metric_value, metrics_text, start_beat, wait_until


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_nightly_fans_out_per_kb_merges_aligns_then_evaluates_and_a_bad_kb_skips_nobody(
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
    # A broken KB that sorts first (a chunk without its content hash): its maintenance fails,
    # which must neither stop kbn's maintenance nor skip either KB's evaluation.
    load_kb(api, "aaa-bad", LEE[20:30])
    db.kb_chunks.update_one({"kb_id": "aaa-bad"}, {"$unset": {"hash": ""}})

    kbs = ["aaa-bad", "kbn", "ghost"]
    first = celery_client.send_task(TaskName.NIGHTLY.value, kwargs={"kb_ids": kbs}).get(timeout=60)
    day = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert first == {"maintained": ["aaa-bad", "kbn"], "evaluations": [f"nightly-{day}-aaa-bad", f"nightly-{day}-kbn"]}

    report = wait_evaluation(api, f"nightly-{day}-kbn", appears=True)
    assert report["status"] == "done" and report["trigger"] == "nightly" and report["progress"]["total"] == 10
    assert "maintenance_error" not in report
    kb = api.get("/v1/kbs/kbn", headers=auth()).json()
    assert (kb["chunks"], kb["active_chunks"], kb["merged_chunks"]) == (22, 20, 2)
    m = kb["last_maintenance"]
    assert m["at"] < report["started_at"]  # the evaluation ran after this KB's maintenance
    assert (m["merged_exact"], m["merged_near"]) == (1, 1)
    assert m["index"]["upserted"] == 20 and m["index"]["deleted"] == 0 and m["index"]["backend"] == "qdrant-local"
    keeper_2 = db.kb_chunks.find_one({"kb_id": "kbn", "chunk_id": base[2]["chunk_id"]})
    merged = db.kb_chunks.find_one({"kb_id": "kbn", "chunk_id": "zz-exact"})
    assert keeper_2["merged_ids"] == ["zz-exact"] and merged["merged_into"] == base[2]["chunk_id"]
    assert merged["text"].strip()  # never lose the text

    bad = wait_evaluation(api, f"nightly-{day}-aaa-bad", appears=True)
    assert bad["status"] == "done" and "KeyError" in bad["maintenance_error"]
    assert api.get("/v1/kbs/aaa-bad", headers=auth()).json().get("last_maintenance") is None
    # Its maintain_kb failed for good (the task-failure alert, taken off the alerter's queue here;
    # not the Celery result: the task id is the same in every test run of the day).
    drained = drain_tasks(env["RAGTASKS_BROKER_URL"], Queue.ALERTER.value, TaskName.RAISE_ALERT.value)
    assert any(TaskName.MAINTAIN_KB.value in a["fingerprint"] for a in drained), drained

    # Again: nothing to merge, nothing to re-embed, the same evaluation (not a second one).
    db.kb_chunks.delete_many({"kb_id": "aaa-bad"})
    second = celery_client.send_task(TaskName.NIGHTLY.value, kwargs={"kb_ids": ["kbn"]}).get(timeout=60)
    assert second["evaluations"] == [f"nightly-{day}-kbn"]

    def maintained_again() -> bool:
        return bool(api.get("/v1/kbs/kbn", headers=auth()).json()["last_maintenance"]["at"] > m["at"])

    wait_until(maintained_again, 60, 0.2, "kbn's second maintenance")
    m2 = api.get("/v1/kbs/kbn", headers=auth()).json()["last_maintenance"]
    assert m2["changed"] == 0 and m2["index"]["upserted"] == 0 and m2["index"]["unchanged"] == 20
    assert len(api.get("/v1/evaluations", params={"kb_id": "kbn"}, headers=auth()).json()["evaluations"]) == 1
    text = metrics_text(worker.port)
    assert metric_value(text, "ragtasks_periodic_task_last_success_timestamp_seconds", {"task": TaskName.NIGHTLY}) > 0
    assert (
        metric_value(text, "ragtasks_periodic_task_last_success_timestamp_seconds", {"task": TaskName.MAINTAIN_KB}) > 0
    )


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
