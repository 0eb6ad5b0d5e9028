"""Demo: load the Lee news corpus into a KB through the gateway, evaluate recall, print the report;
then the same for the Chinese KB of the repository's tests (tests/data/zh_kb), when it is there.

    python -m ragtasks_evaluator.demo --gateway http://127.0.0.1:8000 --api-key dev-key

Uses only the public HTTP API (``POST /v1/kbs/{kb_id}/chunks``, ``POST /v1/evaluations``,
``GET /v1/evaluations/{id}``), so it works against any running gateway and evaluator worker.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import httpx

from .corpus import lee_chunks, load_zh_kb, zh_kb_dir


def load_kb(client: httpx.Client, kb_id: str, batch: int = 200, chunks: list[dict[str, str]] | None = None) -> int:
    chunks = lee_chunks() if chunks is None else chunks
    for start in range(0, len(chunks), batch):
        response = client.post(f"/v1/kbs/{kb_id}/chunks", json={"chunks": chunks[start : start + batch]})
        response.raise_for_status()
    return len(chunks)


def run_evaluation(client: httpx.Client, kb_id: str, sample_size: int, seed: int, timeout: float) -> dict[str, Any]:
    response = client.post("/v1/evaluations", json={"kb_id": kb_id, "sample_size": sample_size, "seed": seed})
    response.raise_for_status()
    evaluation_id = response.json()["evaluation_id"]
    deadline = time.monotonic() + timeout
    while True:
        report: dict[str, Any] = client.get(f"/v1/evaluations/{evaluation_id}").json()
        progress = report.get("progress", {})
        print(f"  {evaluation_id}: {report['status']} {progress.get('done', 0)}/{progress.get('total', '?')}")
        if report["status"] in ("done", "failed") or time.monotonic() > deadline:
            # The report is a summary; its first rows are a page of /rows.
            rows = client.get(f"/v1/evaluations/{evaluation_id}/rows", params={"limit": 5})
            if "details" not in report and rows.status_code == 200:
                report["details"] = rows.json()["rows"]
            return report
        time.sleep(1.0)


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"Recall evaluation {report.get('evaluation_id')} of KB {report.get('kb_id')}: {report.get('status')}",
        f"  retriever: {report.get('retriever')}   questions: {report.get('question_generator')}   "
        f"sample: {report.get('progress', {}).get('total')} chunks (seed {report.get('seed')})",
    ]
    for key, value in sorted(
        (report.get("metrics") or {}).items(), key=lambda kv: (kv[0].split("@")[0], int(kv[0].split("@")[1]))
    ):
        lines.append(f"  {key:<14} {value:.3f}")
    counts = report.get("counts") or {}
    if counts:
        lines.append(
            f"  misses {counts.get('misses')}, empty retrievals {counts.get('empty_retrievals')}, "
            f"retrieval errors {counts.get('retrieval_errors')}; "
            f"took {report.get('timings', {}).get('total_seconds')} s"
        )
    for row in report.get("details", [])[:5]:
        rank = f"rank {row['rank']}" if row.get("rank") else "MISS"
        lines.append(f"    [{rank:>7}] {row['chunk_id']}: {row['question']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="dev-key")
    parser.add_argument("--kb", default="lee-news")
    parser.add_argument("--sample-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--zh-kb", default="zh-support", help="KB for the Chinese corpus ('' to skip it)")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.api_key}"}
    with httpx.Client(base_url=args.gateway, headers=headers, timeout=30) as client:
        print(f"Loading the Lee news corpus (gensim) into KB {args.kb!r}...")
        print(f"  {load_kb(client, args.kb)} chunks upserted; KB: {client.get(f'/v1/kbs/{args.kb}').json()}")
        print(f"Evaluating recall on {args.sample_size} sampled chunks...")
        reports = [run_evaluation(client, args.kb, args.sample_size, args.seed, args.timeout)]
        print(format_report(reports[0]))
        if args.zh_kb and zh_kb_dir() is not None:
            reports.append(chinese_kb(client, args.zh_kb, args.sample_size, args.seed, args.timeout))
    return 0 if all(r["status"] == "done" for r in reports) else 1


def chinese_kb(client: httpx.Client, kb_id: str, sample_size: int, seed: int, timeout: float) -> dict[str, Any]:
    """The Chinese customer-service, banking, SaaS, travel and insurance KB, evaluated the same way."""
    chunks = [{k: c[k] for k in ("chunk_id", "doc_id", "text")} for c in load_zh_kb().chunks]
    print(f"Loading the Chinese KB (tests/data/zh_kb) into KB {kb_id!r}...")
    print(f"  {load_kb(client, kb_id, chunks=chunks)} chunks upserted")
    print(f"Evaluating recall on {min(sample_size, len(chunks))} sampled chunks...")
    report = run_evaluation(client, kb_id, min(sample_size, len(chunks)), seed, timeout)
    print(format_report(report))
    return report


if __name__ == "__main__":
    sys.exit(main())
