"""Render a Grafana dashboard JSON to a PNG from a live Prometheus: what the docs show.

Grafana itself cannot run here, so this draws each panel (time series or stat) at its
``gridPos`` with matplotlib from the panel's own PromQL, run through Prometheus's HTTP API.

    python scripts/render_dashboard.py --prometheus http://127.0.0.1:9090 \
        --dashboard deploy/grafana/dashboards/ragtasks-overview.json --out docs/dashboard-overview.png
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BG, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#ffcb7d"]


def substitute(expr: str, rate_interval: str) -> str:
    expr = expr.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    expr = re.sub(r"\$\{?queue\}?", ".*", expr)
    return re.sub(r"=\"\.\*\"", '=~".*"', expr)


def legend(metric: dict[str, str], fmt: str | None) -> str:
    if fmt:
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt)
    labels = {k: v for k, v in metric.items() if k not in ("__name__", "job", "instance")}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or metric.get("__name__", "value")


def query_range(client: httpx.Client, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    r = client.get("/api/v1/query_range", params={"query": expr, "start": start, "end": end, "step": step})
    body = r.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def render(prometheus: str, dashboard: Path, out: Path, minutes: float, rate_interval: str) -> None:
    spec = json.loads(dashboard.read_text())
    panels = [p for p in spec["panels"] if p.get("type") != "row"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    fig = plt.figure(figsize=(24, rows * 0.42), facecolor=BG)
    fig.suptitle(spec.get("title", dashboard.stem), color=TEXT, fontsize=18, x=0.01, ha="left")
    end = time.time()
    start = end - minutes * 60
    step = max(1.0, (end - start) / 240)
    with httpx.Client(base_url=prometheus, timeout=30) as client:
        for panel in panels:
            g = panel["gridPos"]
            ax = fig.add_axes(
                (g["x"] / 24 + 0.004, 1 - (g["y"] + g["h"]) / rows + 0.012, g["w"] / 24 - 0.008, g["h"] / rows - 0.03),
                facecolor=PANEL,
            )
            ax.set_title(panel.get("title", ""), color=TEXT, fontsize=11, loc="left")
            ax.tick_params(colors=TEXT, labelsize=7)
            for spine in ax.spines.values():
                spine.set_color(GRID)
            series = []
            for target in panel.get("targets", []):
                expr = substitute(target.get("expr", ""), rate_interval)
                for s in query_range(client, expr, start, end, step):
                    series.append((legend(s["metric"], target.get("legendFormat")), s["values"]))
            if panel.get("type") == "stat":
                _stat(ax, series)
            else:
                _timeseries(ax, series, start)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70, facecolor=BG)
    print(f"wrote {out}")


def _stat(ax: Any, series: list[tuple[str, list[list[Any]]]]) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if not series:
        ax.text(0.5, 0.5, "No data", color=TEXT, ha="center", va="center", fontsize=16, transform=ax.transAxes)
        return
    for i, (name, values) in enumerate(series[:4]):
        value = float(values[-1][1])
        text = f"{value:,.3g}"
        ax.text(
            0.5,
            0.75 - i * 0.22,
            f"{text}  {name}",
            color=PALETTE[i % len(PALETTE)],
            ha="center",
            va="center",
            fontsize=15,
            transform=ax.transAxes,
        )


def _timeseries(ax: Any, series: list[tuple[str, list[list[Any]]]], start: float) -> None:
    ax.grid(color=GRID, linewidth=0.5)
    if not series:
        ax.text(0.5, 0.5, "No data", color=TEXT, ha="center", va="center", fontsize=12, transform=ax.transAxes)
        return
    for i, (name, values) in enumerate(series[:8]):
        xs = [(float(t) - start) / 60 for t, _ in values]
        ys = [float(v) if v not in ("NaN", "+Inf", "-Inf") else float("nan") for _, v in values]
        ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linewidth=1.4, label=name[:40])
    ax.set_xlabel("minutes", color=TEXT, fontsize=7)
    ax.legend(fontsize=6, facecolor=PANEL, edgecolor=GRID, labelcolor=TEXT, loc="upper left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--dashboard", type=Path, default=Path("deploy/grafana/dashboards/ragtasks-overview.json"))
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard-overview.png"))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate-interval", default="1m")
    args = parser.parse_args()
    render(args.prometheus, args.dashboard, args.out, args.minutes, args.rate_interval)


if __name__ == "__main__":
    main()
