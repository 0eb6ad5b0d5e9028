"""Reading ``RAGTASKS_ALERT_ROUTES_FILE``: YAML in, a checked ``RoutesConfig`` or every problem out.

Errors name the place in the file (``route.routes[0].matchers``) and say what is wrong, so the
alerter, the gateway and ``ragtasks alerts check-config`` stop with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .config import RoutesConfig, walk
from .decide import Router
from .timeintervals import zone
from .tree import DEFAULT_GROUP_INTERVAL_SECONDS, Timing


class RoutesConfigError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid alert routes file:\n" + "\n".join(f"  {p}" for p in problems))


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (Alertmanager's strict unmarshalling does too)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def parse_routes(text: str, source: str = "<routes>") -> RoutesConfig:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RoutesConfigError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise RoutesConfigError(source, ["the file must be a YAML mapping with receivers and route"])
    try:
        return RoutesConfig.model_validate(data)
    except ValidationError as exc:
        raise RoutesConfigError(source, [_problem(e) for e in exc.errors()]) from None


def load_routes(path: str | Path) -> RoutesConfig:
    """Read and check a routes file (``RAGTASKS_ALERT_ROUTES_FILE``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutesConfigError(str(path), [f"cannot read the file: {exc.__class__.__name__}: {exc}"]) from None
    return parse_routes(text, str(path))


def build_router(path: str | Path, *, timezone: str, group_wait: float, repeat_interval: float) -> Router:
    """A checked routes file with the settings it is read against (RAGTASKS_TIMEZONE, the
    RAGTASKS_ALERT_GROUP_WAIT_SECONDS / _REPEAT_INTERVAL_SECONDS defaults of the root route)."""
    defaults = Timing(group_wait, DEFAULT_GROUP_INTERVAL_SECONDS, repeat_interval)
    return Router(load_routes(path), defaults, zone(timezone))


def warnings(config: RoutesConfig) -> list[str]:
    """Legal but probably not meant: said by ``check-config``, never fatal."""
    out: list[str] = []
    for receiver in config.receivers:
        wecom = receiver.wecom
        if wecom is not None and wecom.mention_mobiles and wecom.message_type == "markdown":
            out.append(
                f"receiver {receiver.name!r}: WeCom markdown messages cannot mention by mobile; "
                "mention_mobiles takes effect with message_type: text (mention_users works in both)"
            )
    used = {node.receiver for _, node in walk(config.route) if node.receiver}
    out += [f"receiver {r.name!r} is not used by any route" for r in config.receivers if r.name not in used]
    return out


def _problem(error: Any) -> str:
    where = _location(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
