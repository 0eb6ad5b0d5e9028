"""``ragtasks eval import|export``: a KB's labelled queries in BEIR's format, through the gateway.

BEIR's layout: ``queries.jsonl`` (one ``{"_id", "text"}`` per line) and ``qrels/<split>.tsv``
(a ``query-id corpus-id score`` header, then one judgement per line, tab-separated); the corpus
ids are the KB's chunk ids. ``import`` posts each query with its judgements to
``POST /v1/kbs/{kb_id}/queries`` (idempotent on the query id); ``export`` pages through
``GET /v1/kbs/{kb_id}/queries`` and writes the same files. Only the gateway is needed (HTTP).

    ragtasks eval import DIR --kb KB [--split test] [--gateway URL] [--api-key KEY]
    ragtasks eval export DIR --kb KB [--split test] [--gateway URL] [--api-key KEY]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

QRELS_HEADER = ["query-id", "corpus-id", "score"]


class BeirError(ValueError):
    """A BEIR file that cannot be read: the message names the file and line."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ev = sub.add_parser("eval", help="labelled queries of a knowledge base (BEIR import/export)")
    actions = ev.add_subparsers(dest="action", required=True)
    for name, func, help_ in (
        ("import", run_import, "post BEIR queries.jsonl + qrels/<split>.tsv as the KB's labelled queries"),
        ("export", run_export, "write the KB's labelled queries as BEIR queries.jsonl + qrels/<split>.tsv"),
    ):
        action = actions.add_parser(name, help=help_)
        action.add_argument("dir", type=Path, help="the BEIR data set's folder")
        action.add_argument("--kb", required=True, help="the knowledge base id")
        action.add_argument("--split", default="test", help="the qrels file: qrels/<split>.tsv (default test)")
        action.add_argument("--gateway", default=os.environ.get("RAGTASKS_GATEWAY_URL", "http://127.0.0.1:8000"))
        action.add_argument("--api-key", default=os.environ.get("RAGTASKS_API_KEY", ""), help="a gateway API key")
        action.set_defaults(func=func)


# --- BEIR files (pure) ---------------------------------------------------------------------------


def read_beir(folder: Path, split: str) -> list[dict[str, Any]]:
    """``[{"query_id", "query", "relevant": {chunk_id: grade}}]`` for every query with judgements."""
    texts = dict(_read_queries(folder / "queries.jsonl"))
    judged: dict[str, dict[str, int]] = {}
    for query_id, chunk_id, grade in _read_qrels(folder / "qrels" / f"{split}.tsv"):
        if query_id not in texts:
            raise BeirError(f"qrels/{split}.tsv: query {query_id!r} is not in queries.jsonl")
        judged.setdefault(query_id, {})[chunk_id] = grade
    return [{"query_id": q, "query": texts[q], "relevant": rel} for q, rel in sorted(judged.items())]


def _read_queries(path: Path) -> Iterator[tuple[str, str]]:
    if not path.is_file():
        raise BeirError(f"{path}: not found")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                yield str(item["_id"]), str(item["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BeirError(f'{path}:{number}: expected {{"_id", "text"}} ({exc})') from None


def _read_qrels(path: Path) -> Iterator[tuple[str, str, int]]:
    if not path.is_file():
        raise BeirError(f"{path}: not found")
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == QRELS_HEADER[0]):
                continue
            try:
                query_id, chunk_id, grade = row
                yield query_id, chunk_id, int(grade)
            except ValueError:
                raise BeirError(f"{path}:{number}: expected query-id, corpus-id and an integer score") from None


def write_beir(folder: Path, split: str, queries: list[dict[str, Any]]) -> None:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for q in queries:
            out.write(json.dumps({"_id": q["query_id"], "text": q["query"]}, ensure_ascii=False) + "\n")
    with (folder / "qrels" / f"{split}.tsv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(QRELS_HEADER)
        for q in queries:
            writer.writerows([q["query_id"], chunk_id, grade] for chunk_id, grade in sorted(q["relevant"].items()))


# --- the commands --------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> httpx.Client:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    return httpx.Client(base_url=args.gateway, headers=headers, timeout=30)


def _fail(message: str) -> None:
    print(f"ragtasks eval: {message}", file=sys.stderr)
    raise SystemExit(1)


def run_import(args: argparse.Namespace) -> None:
    try:
        queries = read_beir(args.dir, args.split)
    except BeirError as exc:
        _fail(str(exc))
    with _client(args) as client:
        for q in queries:
            r = client.post(f"/v1/kbs/{args.kb}/queries", json=q)
            if r.status_code >= 400:
                _fail(f"query {q['query_id']!r}: HTTP {r.status_code}: {r.text[:300]}")
    print(f"imported {len(queries)} labelled queries into {args.kb}")


def run_export(args: argparse.Namespace) -> None:
    queries: list[dict[str, Any]] = []
    with _client(args) as client:
        offset: int | None = 0
        while offset is not None:
            r = client.get(f"/v1/kbs/{args.kb}/queries", params={"offset": offset, "limit": 500})
            if r.status_code >= 400:
                _fail(f"HTTP {r.status_code}: {r.text[:300]}")
            queries.extend(r.json()["queries"])
            offset = r.json()["next_offset"]
    write_beir(args.dir, args.split, queries)
    print(f"exported {len(queries)} labelled queries of {args.kb} to {args.dir}")
