"""``ragtasks alerts check-config FILE``: validate an alert routes file (``RAGTASKS_ALERT_ROUTES_FILE``).

Exit 0 and a summary (receivers, the route tree, inhibit rules, time intervals, warnings) when the
file is valid; exit 1 with every problem, each at its place in the file, when it is not. Reads
only the file: no settings, broker or database are needed, so it runs in CI or a pre-commit hook.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ragtasks_core.settings import Settings

if TYPE_CHECKING:
    from ragtasks_alerter.routing import Route, RoutesConfig


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    al = sub.add_parser("alerts", help="alert routing tools")
    actions = al.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check-config", help="validate an alert routes file (RAGTASKS_ALERT_ROUTES_FILE)")
    check.add_argument("file", help="the YAML routes file")
    check.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> None:
    # Imported here: the parser is built by every ``ragtasks`` process, and only this command
    # needs the alerter's routing package (the gateway process must not load worker code).
    from ragtasks_alerter.routing import RoutesConfigError, load_routes
    from ragtasks_alerter.routing.loader import warnings

    try:
        config = load_routes(args.file)
    except RoutesConfigError as exc:
        print(f"ragtasks alerts check-config: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{args.file}: OK")
    print("\n".join(summary(config)))
    for warning in warnings(config):
        print(f"warning: {warning}")


def check_routes_file(settings: Settings) -> None:
    """Every worker's start-up check of RAGTASKS_ALERT_ROUTES_FILE (any of them may run beat's
    flush_alerts): a bad file stops the worker with every problem listed, instead of failing the
    first alert or flush."""
    if settings.alert_routes_file is None:
        return
    from ragtasks_alerter.routing import RoutesConfigError, build_router

    try:
        build_router(
            settings.alert_routes_file,
            timezone=settings.timezone,
            group_wait=settings.alert_group_wait_seconds,
            repeat_interval=settings.alert_repeat_interval_seconds,
        )
    except RoutesConfigError as exc:
        raise SystemExit(f"ragtasks: RAGTASKS_ALERT_ROUTES_FILE: {exc}") from None


def summary(config: RoutesConfig) -> list[str]:
    lines = [f"receivers ({len(config.receivers)}):"]
    for receiver in config.receivers:
        extra = ""
        if receiver.wecom is not None:
            mentions = [*receiver.wecom.mention_users, *receiver.wecom.mention_mobiles]
            extra = f" {receiver.wecom.message_type}" + (f", mentions {len(mentions)}" if mentions else "")
        lines.append(f"  {receiver.name}: {receiver.kind}{extra}")
    lines.append("route tree:")
    lines += _tree(config.route, depth=1)
    lines.append(f"inhibit rules: {len(config.inhibit_rules)}")
    lines.append(f"time intervals: {', '.join(t.name for t in config.time_intervals) or '-'}")
    return lines


def _tree(route: Route, depth: int) -> list[str]:
    from ragtasks_alerter.routing.durations import format_duration

    parts = [" ".join(str(m) for m in route.all_matchers()) or "(every alert)"]
    if route.receiver:
        parts.append(f"-> {route.receiver}")
    if route.group_by is not None:
        parts.append(f"group_by [{', '.join(route.group_by)}]")
    for name in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(route, name)
        if value is not None:
            parts.append(f"{name} {format_duration(value)}")
    if route.continue_:
        parts.append("continue")
    if route.mute_time_intervals:
        parts.append(f"muted during {', '.join(route.mute_time_intervals)}")
    lines = ["  " * depth + " ".join(parts)]
    for child in route.routes:
        lines += _tree(child, depth + 1)
    return lines
