"""Labelled queries of your own (BEIR's qrels): imported with ``ragtasks eval import`` (a real CLI
process against a real gateway process), evaluated by a real worker with graded relevance, and
exported back to the same BEIR files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from ragtasks_evaluator import ir_metrics, questions
from tests.integration.evaluator.helpers import LEE, all_rows, load_kb, wait_evaluation
from tests.integration.helpers import auth
from tests.support.procs import start_together

KEY = "test-key-0123456789"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ragtasks_cli", "eval", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_beir_import_evaluate_and_export(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, tmp_path: Path
) -> None:
    _, gateway = start_together(
        lambda: start_worker("evaluator", {**worker_env, "RAGTASKS_RETRIEVER": "bm25"}, concurrency=1),
        lambda: start_gateway(worker_env),
    )
    base = f"http://127.0.0.1:{gateway.port}"
    chunks = LEE[:40]
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    queries = [{"_id": f"q{i}", "text": questions.offline_question(c["text"])} for i, c in enumerate(chunks[:6])]
    queries.append({"_id": "q-two", "text": "bushfires Sydney residents homes firefighters"})
    (beir / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    qrels = [f"q{i}\t{c['chunk_id']}\t1" for i, c in enumerate(chunks[:6])]
    qrels += [
        f"q-two\t{chunks[0]['chunk_id']}\t2",
        f"q-two\t{chunks[1]['chunk_id']}\t1",
        f"q-two\t{chunks[2]['chunk_id']}\t0",
    ]
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")

    with httpx.Client(base_url=base, timeout=30) as api:
        load_kb(api, "beir", chunks)
        env = {**worker_env, "RAGTASKS_GATEWAY_URL": base, "RAGTASKS_API_KEY": KEY}
        done = _cli("import", str(beir), "--kb", "beir", env=env)
        assert done.returncode == 0 and "imported 7 labelled queries" in done.stdout, done.stderr
        assert _cli("import", str(beir), "--kb", "beir", env=env).returncode == 0  # idempotent
        listed = api.get("/v1/kbs/beir/queries", headers=auth()).json()
        assert listed["total"] == 7 and listed["next_offset"] is None

        r = api.post(
            "/v1/evaluations",
            json={"kb_id": "beir", "sample_size": 50, "k": [1, 5, 10], "seed": 1, "questions": "labelled"},
            headers=auth(),
        )
        assert r.status_code == 202, r.text
        report = wait_evaluation(api, r.json()["evaluation_id"])
        assert report["status"] == "done" and report["total"] == 7, report
        assert report["question_generator"] == "labelled"
        rows = all_rows(api, report["evaluation_id"])
        assert sorted(r["chunk_id"] for r in rows) == sorted(q["_id"] for q in queries)
        two = next(r for r in rows if r["chunk_id"] == "q-two")
        assert two["relevant"] == [[chunks[0]["chunk_id"], 2], [chunks[1]["chunk_id"], 1], [chunks[2]["chunk_id"], 0]]
        assert two["query_id"] == "q-two"  # a labelled row is keyed by its query, and says so
        # The CSV carries the query id and the grades too, in columns of their own at the end.
        exported_rows = api.get(f"/v1/evaluations/{report['evaluation_id']}/rows.csv", headers=auth())
        table = list(csv.reader(io.StringIO(exported_rows.content.decode("utf-8-sig"))))
        assert table[0][-2:] == ["query_id", "relevant"], table[0]
        by_query = {line[-2]: line[-1] for line in table[1:]}
        assert sorted(by_query) == sorted(q["_id"] for q in queries)
        assert by_query["q-two"] == f"{chunks[0]['chunk_id']}=2 {chunks[1]['chunk_id']}=1 {chunks[2]['chunk_id']}=0"
        # Every metric, graded, from what was retrieved: the report agrees with ir_metrics.
        runs = [(r["retrieved"], {c: g for c, g in r["relevant"]}) for r in rows]
        expected = ir_metrics.mean_metrics(runs, [1, 5, 10])
        assert report["metrics"] == {k: round(v, 6) for k, v in expected.items()}
        assert report["metrics"]["hit_rate@10"] >= 0.8, report["metrics"]

        out = tmp_path / "out"
        exported = _cli("export", str(out), "--kb", "beir", env=env)
        assert exported.returncode == 0, exported.stderr
        assert sorted((out / "queries.jsonl").read_text().splitlines()) == sorted(json.dumps(q) for q in queries)
        written = (out / "qrels" / "test.tsv").read_text().splitlines()
        assert written[0] == "query-id\tcorpus-id\tscore" and sorted(written[1:]) == sorted(qrels)

        # Bad input: clear 4xx / CLI messages.
        for body in (
            {"query": "x", "relevant": {}},
            {"query": "x", "relevant": {"c1": 0}},
            {"query": " ", "relevant": {"c1": 1}},
            {"query": "x", "relevant": {"$where": 1}},
        ):
            assert api.post("/v1/kbs/beir/queries", json=body, headers=auth()).status_code == 422, body
        assert (
            api.post("/v1/kbs/none/queries", json={"query": "x", "relevant": {"c1": 1}}, headers=auth()).status_code
            == 404
        )
        # The review list of real queries (tests/integration/gateway/test_event_queries.py): none yet.
        events = api.get("/v1/kbs/beir/queries", params={"source": "events"}, headers=auth()).json()
        assert events["source"] == "events" and events["total"] == 0 and events["queries"] == []
        assert api.get("/v1/kbs/beir/queries", params={"source": "qrels"}, headers=auth()).status_code == 422
        load_kb(api, "no-labels", chunks[:3])
        r = api.post(
            "/v1/evaluations", json={"kb_id": "no-labels", "sample_size": 5, "questions": "labelled"}, headers=auth()
        )
        assert r.status_code == 422 and "labelled" in r.text, r.text
    broken = tmp_path / "broken"
    (broken / "qrels").mkdir(parents=True)
    (broken / "queries.jsonl").write_text('{"_id": "q1"}\n')
    (broken / "qrels" / "test.tsv").write_text("q1\tc1\t1\n")
    failed = _cli("import", str(broken), "--kb", "beir", env=env)
    assert failed.returncode == 1 and "queries.jsonl:1" in failed.stderr
