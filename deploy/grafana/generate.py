"""Generate the committed Grafana dashboards of ragtasks (plain Python, no dependencies).

    .venv/bin/python deploy/grafana/generate.py          # (re)write deploy/grafana/dashboards/
    .venv/bin/python deploy/grafana/generate.py --check  # exit 1 if the committed JSON drifted

Dashboards use Grafana schema 39, the Prometheus data source as the ``${datasource}`` variable
and stable uids, so links and provisioning survive regeneration. Success ratios and the LLM
error ratio come from the recording rules in deploy/prometheus/rules.yaml; metric names are the
contract in services/ragtasks_core/metrics.py. tests/observability checks drift and runs every
panel's expr against a real Prometheus.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
TERMINAL = 'outcome=~"success|failure|rejected"'

Panel = dict[str, Any]


# -- panel builders ---------------------------------------------------------------------------


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": True,
        "refId": ref,
    }


def targets(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def timeseries(
    title: str, description: str, *pairs: tuple[str, str], unit: str = "short", max_: float | None = None
) -> Panel:
    defaults: dict[str, Any] = {
        "unit": unit,
        "min": 0,
        "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"},
    }
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets(*pairs),
    }


def stat(
    title: str, description: str, *pairs: tuple[str, str], unit: str, steps: tuple[tuple[str, float], ...] = ()
) -> Panel:
    """A stat panel, green unless a ``(color, from_value)`` step says otherwise."""
    colors: list[dict[str, Any]] = [{"color": "green", "value": None}]
    colors += [{"color": color, "value": value} for color, value in steps]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": colors}},
            "overrides": [],
        },
        "options": {
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value_and_name",
        },
        "targets": [dict(t, instant=True, range=False) for t in targets(*pairs)],
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def quantiles(
    metric: str, by: str, selector: str = "", qs: tuple[float, ...] = (0.5, 0.95, 0.99)
) -> list[tuple[str, str]]:
    """``histogram_quantile`` exprs, one per quantile, legend ``p95 {{by}}``."""
    return [
        (
            f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{selector}}}[{RATE}])))",
            f"p{round(q * 100)} {{{{{by}}}}}",
        )
        for q in qs
    ]


def layout(panels: list[Panel]) -> list[Panel]:
    """Assign ids and grid positions: rows span the width, other panels flow 3 per line."""
    x = y = 0
    height = 8
    out = []
    for i, panel in enumerate(panels, start=1):
        panel = dict(panel, id=i)
        if panel["type"] == "row":
            if x:
                y += height
            panel["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            x, y = 0, y + 1
        else:
            width = panel.pop("_width", 8)
            if x + width > 24:
                x, y = 0, y + height
            panel["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
            x += width
        out.append(panel)
    return out


def wide(panel: Panel) -> Panel:
    return dict(panel, _width=12)


# -- shared sections --------------------------------------------------------------------------


def llm_panels() -> list[Panel]:
    return [
        row("LLM and rate limiter"),
        timeseries(
            "LLM tokens / s",
            "Prompt and completion tokens per second, by model.",
            (f"sum by (model, kind) (rate(ragtasks_llm_tokens_total[{RATE}]))", "{{model}} {{kind}}"),
        ),
        timeseries(
            "LLM error ratio",
            "Share of LLM calls that did not succeed, any reason (recording rule, 5m). Alert "
            "RagtasksLLMErrorRateHigh above 10% for 10m.",
            ("ragtasks:llm_error_ratio:rate5m", "{{model}}"),
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "LLM requests by outcome",
            "LLM API calls per second: success, rate_limited, server_error, timeout, connection_error, client_error.",
            (f"sum by (outcome) (rate(ragtasks_llm_requests_total[{RATE}]))", "{{outcome}}"),
            unit="reqps",
        ),
        timeseries(
            "LLM latency p50 / p95",
            "Latency of one LLM API call, by model.",
            *quantiles("ragtasks_llm_request_duration_seconds", "model", qs=(0.5, 0.95)),
            unit="s",
        ),
        timeseries(
            "Rate-limiter wait p95",
            "Time a task waited for a shared rate-limiter slot.",
            *quantiles("ragtasks_rate_limiter_wait_seconds", "limiter", qs=(0.95,)),
            unit="s",
        ),
        timeseries(
            "Rate-limiter deferrals / s",
            "Tasks re-queued because the shared rate limiter had no slot soon enough.",
            (f"sum by (limiter) (rate(ragtasks_rate_limiter_deferrals_total[{RATE}]))", "{{limiter}}"),
            unit="ops",
        ),
        dict(
            timeseries(
                "Summaries / s",
                "Rolling summaries written, by model and outcome.",
                (f"sum by (model, outcome) (rate(ragtasks_summaries_total[{RATE}]))", "{{model}} {{outcome}}"),
                unit="ops",
            ),
            _width=24,
        ),
    ]


def quality_panels(task_selector: str) -> list[Panel]:
    last_success = "ragtasks_periodic_task_last_success_timestamp_seconds"
    if task_selector:
        last_success += f"{{{task_selector}}}"
    return [
        row("Recall, alerts and schedules"),
        timeseries(
            "Recall: hit rate and MRR",
            "Latest nightly evaluation per knowledge base and k. Alert RagtasksRecallDrop when hit "
            "rate falls more than 0.05 below the day before.",
            ("max by (kb, k) (ragtasks_eval_hit_rate)", "hit rate {{kb}} @{{k}}"),
            ("max by (kb, k) (ragtasks_eval_mrr)", "MRR {{kb}} @{{k}}"),
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "Recall per knowledge base: hit rate@k and nDCG@k",
            "Set by each finished evaluation (ragtasks_eval_hit_rate, ragtasks_eval_ndcg), one line per "
            "KB and k: nightly reports of a KB are comparable by construction (same sample, questions, "
            "retriever), so a slope is the retriever's.",
            ("max by (kb, k) (ragtasks_eval_hit_rate)", "hit rate {{kb}} @{{k}}"),
            ("max by (kb, k) (ragtasks_eval_ndcg)", "nDCG {{kb}} @{{k}}"),
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "Recall change vs a day earlier",
            "Recording rules ragtasks:eval_*:delta1d.",
            ("ragtasks:eval_hit_rate:delta1d", "hit rate {{kb}} @{{k}}"),
            ("ragtasks:eval_mrr:delta1d", "MRR {{kb}} @{{k}}"),
            unit="percentunit",
        ),
        timeseries(
            "Empty retrievals",
            "Share of retrieval events that returned nothing, by knowledge base.",
            (
                f'sum by (kb) (rate(ragtasks_retrieval_events_total{{outcome="empty"}}[{RATE}]))'
                f" / sum by (kb) (rate(ragtasks_retrieval_events_total[{RATE}]))",
                "{{kb}}",
            ),
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "Retrieval latency p95",
            "As the RAG app reports it with each retrieval event (latency_ms), by knowledge base.",
            (
                f"histogram_quantile(0.95, sum by (kb, le) (rate(ragtasks_retrieval_duration_seconds_bucket[{RATE}])))",
                "{{kb}}",
            ),
            unit="s",
        ),
        wide(
            timeseries(
                "Alerts sent / failed / dead",
                "Alert deliveries per second by channel and outcome; `dead` means retries exhausted "
                "(alert RagtasksAlertsDead).",
                (f"sum by (channel, outcome) (rate(ragtasks_alerts_total[{RATE}]))", "{{channel}} {{outcome}}"),
            )
        ),
        wide(
            stat(
                "Last periodic success (age)",
                "Time since each periodic task last succeeded. Nightly tasks alert after 26h, the "
                "outbox sweep after 10m.",
                (
                    f"time() - max by (task) (max_over_time({last_success}[3d]))",
                    "{{task}}",
                ),
                unit="s",
                steps=(("yellow", 600), ("red", 26 * 3600)),
            )
        ),
    ]


# -- dashboards -------------------------------------------------------------------------------


def dashboard(uid: str, title: str, panels: list[Panel], variables: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["ragtasks"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "type": "dashboards",
                "tags": ["ragtasks"],
                "asDropdown": True,
                "title": "ragtasks",
                "icon": "external link",
            }
        ],
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "includeAll": False,
        "multi": False,
    }


def queue_variable() -> dict[str, Any]:
    query = "label_values(ragtasks_tasks_total, queue)"
    return {
        "name": "queue",
        "label": "Queue",
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "current": {},
        "hide": 0,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "includeAll": False,
        "multi": False,
    }


def overview() -> dict[str, Any]:
    panels = [
        row("Tasks"),
        timeseries(
            "Throughput per queue",
            "Tasks finished per second (success, failure, rejected) and published per second.",
            (f"sum by (queue) (rate(ragtasks_tasks_total{{{TERMINAL}}}[{RATE}]))", "done {{queue}}"),
            (f"sum by (queue) (rate(ragtasks_tasks_published_total[{RATE}]))", "published {{queue}}"),
            unit="ops",
        ),
        timeseries(
            "Success ratio per queue",
            "success / (success + failure + rejected); retries are not terminal. Recording rules, "
            "5m and 1h. Alert RagtasksTaskSuccessRatioLow under 95%.",
            ("ragtasks:queue_success_ratio:rate5m", "5m {{queue}}"),
            ("ragtasks:queue_success_ratio:rate1h", "1h {{queue}}"),
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "Retries and in progress",
            "Attempts that ended in a retry per second, and tasks executing now.",
            (f'sum by (queue) (rate(ragtasks_tasks_total{{outcome="retry"}}[{RATE}]))', "retries/s {{queue}}"),
            ("sum by (queue) (ragtasks_tasks_in_progress)", "in progress {{queue}}"),
        ),
        wide(
            timeseries(
                "Task duration p50 / p95 / p99",
                "Run time of one task execution, by queue.",
                *quantiles("ragtasks_task_duration_seconds", "queue"),
                unit="s",
            )
        ),
        wide(
            timeseries(
                "Queue wait p95",
                "Time from publish to start of execution, by queue.",
                *quantiles("ragtasks_task_queue_wait_seconds", "queue", qs=(0.95,)),
                unit="s",
            )
        ),
        wide(
            timeseries(
                "Gateway requests",
                "Gateway HTTP requests per second by route and status.",
                (f"sum by (route, status) (rate(ragtasks_http_requests_total[{RATE}]))", "{{route}} {{status}}"),
                unit="reqps",
            )
        ),
        wide(
            timeseries(
                "Gateway latency p50 / p95",
                "Gateway HTTP request latency by route.",
                *quantiles("ragtasks_http_request_duration_seconds", "route", qs=(0.5, 0.95)),
                unit="s",
            )
        ),
        row("RabbitMQ"),
        wide(
            timeseries(
                "Backlog: ready / unacked",
                "Messages per queue from the RabbitMQ management API. Alerts when ready keeps growing "
                "above 100 for 15m.",
                ("max by (queue, state) (ragtasks_queue_messages)", "{{queue}} {{state}}"),
            )
        ),
        wide(
            timeseries(
                "Consumers",
                "Consumers per queue. Alert RagtasksQueueNoConsumers when ready > 0 and none consume.",
                ("max by (queue) (ragtasks_queue_consumers)", "{{queue}}"),
            )
        ),
        *llm_panels(),
        *quality_panels(""),
        row("Status"),
        stat(
            "Firing alerts",
            "ragtasks alerts firing now (deploy/prometheus/rules.yaml).",
            ('count(ALERTS{alertname=~"Ragtasks.*", alertstate="firing"}) or vector(0)', "firing"),
            unit="short",
            steps=(("red", 1),),
        ),
        stat(
            "Targets up",
            "Share of ragtasks scrape targets that answered the last scrape.",
            ('avg(up{job=~"ragtasks.*"})', "up"),
            unit="percentunit",
            steps=(("red", 0), ("green", 1)),
        ),
        stat(
            "Build",
            "Running versions (ragtasks_build_info).",
            ("count by (version) (ragtasks_build_info)", "{{version}}"),
            unit="short",
        ),
    ]
    return dashboard("ragtasks-overview", "ragtasks / Overview", panels, [])


def worker() -> dict[str, Any]:
    q = 'queue="$queue"'
    panels = [
        row("Tasks of $queue"),
        timeseries(
            "Throughput by task and outcome",
            "Task attempts per second on $queue, by task and outcome (retry included).",
            (f"sum by (task, outcome) (rate(ragtasks_tasks_total{{{q}}}[{RATE}]))", "{{task}} {{outcome}}"),
            unit="ops",
        ),
        timeseries(
            "Success ratio by task",
            "success / (success + failure + rejected), recording rules over 5m and 1h.",
            (f"ragtasks:task_success_ratio:rate5m{{{q}}}", "5m {{task}}"),
            (f"ragtasks:task_success_ratio:rate1h{{{q}}}", "1h {{task}}"),
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "Retries and in progress",
            "Attempts that ended in a retry per second, and tasks executing now, by task.",
            (
                f'sum by (task) (rate(ragtasks_tasks_total{{{q}, outcome="retry"}}[{RATE}]))',
                "retries/s {{task}}",
            ),
            (f"sum by (task) (ragtasks_tasks_in_progress{{{q}}})", "in progress {{task}}"),
        ),
        wide(
            timeseries(
                "Task duration p50 / p95 / p99",
                "Run time of one execution, by task.",
                *quantiles("ragtasks_task_duration_seconds", "task", q),
                unit="s",
            )
        ),
        wide(
            timeseries(
                "Queue wait p95",
                "Time from publish to start of execution, by task.",
                *quantiles("ragtasks_task_queue_wait_seconds", "task", q, qs=(0.95,)),
                unit="s",
            )
        ),
        row("RabbitMQ: $queue"),
        wide(
            timeseries(
                "Backlog: ready / unacked",
                "Messages in $queue from the RabbitMQ management API.",
                (f"max by (queue, state) (ragtasks_queue_messages{{{q}}})", "{{state}}"),
            )
        ),
        wide(
            timeseries(
                "Consumers",
                "Consumers of $queue.",
                (f"max by (queue) (ragtasks_queue_consumers{{{q}}})", "consumers"),
            )
        ),
        *llm_panels(),
        *quality_panels('task=~"ragtasks[.]$queue[.].+"'),
    ]
    return dashboard("ragtasks-worker", "ragtasks / Worker", panels, [queue_variable()])


DASHBOARDS = {"ragtasks-overview.json": overview, "ragtasks-worker.json": worker}


def render() -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    return {name: json.dumps(build(), indent=2, sort_keys=True) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    drifted = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                drifted.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if drifted:
        print(f"dashboards out of date: {', '.join(drifted)}; run deploy/grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
