"""BEIR's files for labelled queries (``ragtasks eval import|export``): read, write, round trip, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtasks_cli.eval_queries import BeirError, read_beir, write_beir


def _beir(folder: Path, queries: list[dict[str, str]], qrels: str) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries))
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_read_groups_judgements_per_query_and_round_trips(tmp_path: Path) -> None:
    folder = _beir(
        tmp_path / "in",
        [
            {"_id": "q1", "text": "七天无理由退货怎么申请？"},
            {"_id": "q2", "text": "Who fought the bushfires?"},
            {"_id": "q3", "text": "unjudged"},
        ],
        "query-id\tcorpus-id\tscore\nq1\tzh-ce-03\t2\nq1\tzh-ce-04\t0\nq2\tlee-000-0\t1\n",
    )
    queries = read_beir(folder, "test")
    assert queries == [
        {"query_id": "q1", "query": "七天无理由退货怎么申请？", "relevant": {"zh-ce-03": 2, "zh-ce-04": 0}},
        {"query_id": "q2", "query": "Who fought the bushfires?", "relevant": {"lee-000-0": 1}},
    ]
    write_beir(tmp_path / "out", "test", queries)
    assert read_beir(tmp_path / "out", "test") == queries
    assert (tmp_path / "out" / "qrels" / "test.tsv").read_text().splitlines()[0] == "query-id\tcorpus-id\tscore"


@pytest.mark.parametrize(
    ("queries", "qrels", "message"),
    [
        ([{"_id": "q1", "text": "x"}], "q1\tc1\thigh\n", "integer score"),
        ([{"_id": "q1", "text": "x"}], "q9\tc1\t1\n", "not in queries.jsonl"),
        ([{"id": "q1", "text": "x"}], "q1\tc1\t1\n", "queries.jsonl:1"),
        ([{"_id": "q1", "text": "x"}], "q1\tc1\n", "test.tsv:1"),
    ],
)
def test_bad_files_name_the_file_and_line(
    tmp_path: Path, queries: list[dict[str, str]], qrels: str, message: str
) -> None:
    with pytest.raises(BeirError, match=message):
        read_beir(_beir(tmp_path, queries, qrels), "test")
    with pytest.raises(BeirError, match="not found"):
        read_beir(tmp_path / "empty", "test")
