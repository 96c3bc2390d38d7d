"""``slaengine routing``: check routing.yaml and show where alerts would go (like amtool).

slaengine routing check [--config FILE]
slaengine routing test severity=warning service=checkout [--config FILE]
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("routing", help="check alert routing and test label sets")
    actions = parser.add_subparsers(
        dest="routing_action", metavar="ACTION", required=True, parser_class=type(parser)
    )
    check = actions.add_parser("check", help="validate routing.yaml and print the route tree")
    check.add_argument("--config", help="routing file (default alert_rules/routing.yaml)")
    check.set_defaults(func=run_check)
    test = actions.add_parser("test", help="print the receivers and group of a label set")
    test.add_argument("labels", nargs="+", metavar="NAME=VALUE")
    test.add_argument("--config", help="routing file (default alert_rules/routing.yaml)")
    test.set_defaults(func=run_test)


def _load(args: argparse.Namespace) -> Any:
    from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config

    return load_routing_config(args.config or DEFAULT_ROUTING_FILE)


def run_check(args: argparse.Namespace) -> int:
    from slaengine.router.routing import build_route_tree

    config = _load(args)
    root = build_route_tree(config.route)

    def show(route: Any, depth: int) -> None:
        matchers = ", ".join(str(m) for m in route.matchers) or "(all)"
        group_by = "..." if route.group_by is None else ",".join(route.group_by)
        print(
            f"{'  ' * depth}{matchers} -> {route.receiver}  group_by=[{group_by}]"
            f"{'  continue' if route.continue_ else ''}"
        )
        for child in route.children:
            show(child, depth + 1)

    show(root, 0)
    print(
        f"{len(config.receivers)} receivers, {len(config.inhibit_rules)} inhibit rules, "
        f"{len(config.silences)} configured silences: OK"
    )
    return 0


def run_test(args: argparse.Namespace) -> int:
    from slaengine.errors import ConfigError
    from slaengine.router.routing import build_route_tree

    labels: dict[str, str] = {}
    for item in args.labels:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"label {item!r} is not NAME=VALUE")
        labels[name] = value
    root = build_route_tree(_load(args).route)
    for route in root.matches(labels):
        group = route.group_labels(labels)
        print(f"{route.receiver}  group={group}  group_key={route.group_key(group)}")
    return 0
