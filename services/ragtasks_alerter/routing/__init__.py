"""Receivers, routes, inhibition, quiet hours and silences for the alerter (issue 14).

Pure: no Celery, no Mongo, no HTTP. ``loader.load_routes`` reads ``RAGTASKS_ALERT_ROUTES_FILE``;
``decide.Router`` says, for one alert at one moment, which receivers and groups it goes to and
whether it is inhibited, muted or silenced. Without a routes file the alerter does not use this
package at all (one robot, grouping by source, as before).
"""

from ragtasks_core.alerting.matchers import Matcher, MatcherError, parse_matcher, parse_matchers
from ragtasks_core.alerting.silences import Silence, SilenceError

from .config import InhibitRule, Receiver, Route, RoutesConfig
from .decide import OUTCOMES, Decision, Outcome, RouteDecision, Router, routing_labels
from .inhibit import FiringAlert
from .loader import RoutesConfigError, build_router, load_routes, parse_routes
from .tree import DEFAULT_GROUP_INTERVAL_SECONDS, RouteMatch, Timing, match_routes

__all__ = [
    "DEFAULT_GROUP_INTERVAL_SECONDS",
    "OUTCOMES",
    "Decision",
    "FiringAlert",
    "InhibitRule",
    "Matcher",
    "MatcherError",
    "Outcome",
    "Receiver",
    "Route",
    "RouteDecision",
    "RouteMatch",
    "Router",
    "RoutesConfig",
    "RoutesConfigError",
    "Silence",
    "SilenceError",
    "Timing",
    "build_router",
    "load_routes",
    "match_routes",
    "parse_matcher",
    "parse_matchers",
    "parse_routes",
    "routing_labels",
]
