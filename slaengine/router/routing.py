"""The routing tree: which routes (and so receivers and group settings) an alert belongs to.

Alertmanager semantics: an alert descends into the first matching child route, and keeps
looking at later siblings only when the matched child has ``continue: true``; a node whose
children all miss takes the alert itself. Children inherit receiver and group settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from slaengine.router.config import RouteConfig
from slaengine.router.matchers import Matcher, match_all, parse_matchers

GROUP_BY_ALL = "..."
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True)
class Route:
    route_id: str  # stable across restarts: the chain of matchers plus sibling index
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...] | None  # None: group by all labels
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    continue_: bool
    children: tuple[Route, ...]

    def matches(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with ``labels`` (empty if this node does not match)."""
        if not match_all(self.matchers, labels):
            return []
        taken: list[Route] = []
        for child in self.children:
            found = child.matches(labels)
            taken.extend(found)
            if found and not child.continue_:
                break
        return taken or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.group_by is None:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def group_key(self, group_labels: Mapping[str, str]) -> str:
        """Stable per route and group labels; doubles as PagerDuty's dedup_key (<= 255 chars)."""
        canonical = json.dumps([self.route_id, sorted(group_labels.items())], separators=(",", ":"))
        return f"{self.receiver}-{hashlib.sha256(canonical.encode()).hexdigest()[:24]}"

    def walk(self) -> list[Route]:
        return [self, *(route for child in self.children for route in child.walk())]


def build_route_tree(
    config: RouteConfig, parent: Route | None = None, route_id: str = "{}"
) -> Route:
    receiver = config.receiver or (parent.receiver if parent else "")
    if config.group_by is None:
        group_by = parent.group_by if parent else ()
    else:
        group_by = None if GROUP_BY_ALL in config.group_by else tuple(config.group_by)
    node = Route(
        route_id=route_id,
        receiver=receiver,
        matchers=parse_matchers(config.matchers),
        group_by=group_by,
        group_wait=_inherit(config.group_wait, parent.group_wait if parent else DEFAULT_GROUP_WAIT),
        group_interval=_inherit(
            config.group_interval, parent.group_interval if parent else DEFAULT_GROUP_INTERVAL
        ),
        repeat_interval=_inherit(
            config.repeat_interval, parent.repeat_interval if parent else DEFAULT_REPEAT_INTERVAL
        ),
        continue_=config.continue_,
        children=(),
    )
    children = tuple(
        build_route_tree(child, node, f"{route_id}/{{{','.join(child.matchers)}}}/{index}")
        for index, child in enumerate(config.routes)
    )
    return Route(**{**node.__dict__, "children": children})


def _inherit(own: timedelta | None, inherited: timedelta) -> timedelta:
    return own if own is not None else inherited
