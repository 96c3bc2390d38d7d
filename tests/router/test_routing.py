from __future__ import annotations

from pathlib import Path

import pytest

from slaengine.errors import ConfigError
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.matchers import InvalidMatcherError, Matcher
from slaengine.router.routing import build_route_tree


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ("severity=critical", {"severity": "error"}, False),
        ('severity!="info"', {"severity": "warning"}, True),
        ('severity!="info"', {}, True),
        ('severity=~"critical|error"', {"severity": "error"}, True),
        ('severity=~"crit"', {"severity": "critical"}, False),
        ('service!~"test-.*"', {"service": "test-api"}, False),
        ('service=""', {}, True),
    ],
    ids=[
        "equality matches the same value",
        "equality rejects another value",
        "inequality accepts another value",
        "a missing label is the empty string",
        "regex alternatives match",
        "regexes are anchored at both ends",
        "negative regex rejects a match",
        "empty value matches a missing label",
    ],
)
def test_matcher_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    "text",
    ["severity", "=x", 'a=~"("', "1abc=x"],
    ids=["no operator", "no label", "broken regex", "bad label name"],
)
def test_invalid_matchers_are_rejected(text: str) -> None:
    with pytest.raises(InvalidMatcherError):
        Matcher.parse(text)


TREE = """
    route:
      receiver: default
      group_by: [alertname]
      group_wait: 30s
      routes:
        - matchers: ['team="db"']
          receiver: db
          group_wait: 5s
          continue: true
          routes:
            - matchers: ['severity="critical"']
              receiver: db-pager
              group_by: ['...']
        - matchers: ['team=~"db|web"']
          receiver: web
        - matchers: ['team="web"']
          receiver: never
    receivers:
      - {name: default, chat: {}}
      - {name: db, chat: {}}
      - {name: db-pager, chat: {}}
      - {name: web, chat: {}}
      - {name: never, chat: {}}
"""


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "ops"}, ["default"]),
        ({"team": "db", "severity": "warning"}, ["db", "web"]),
        ({"team": "db", "severity": "critical"}, ["db-pager", "web"]),
        ({"team": "web"}, ["web"]),
    ],
    ids=[
        "no child matches: the root takes it",
        "continue lets a later sibling match too",
        "the deepest matching child wins over its parent",
        "the first match without continue stops the search",
    ],
)
def test_route_tree(write_config, labels: dict[str, str], receivers: list[str]) -> None:
    root = build_route_tree(write_config(TREE).route)
    assert [route.receiver for route in root.matches(labels)] == receivers


def test_children_inherit_group_settings(write_config) -> None:
    root = build_route_tree(write_config(TREE).route)
    db, db_pager = root.children[0], root.children[0].children[0]
    assert db.group_wait.total_seconds() == 5 and db.group_by == ("alertname",)
    assert db_pager.group_wait.total_seconds() == 5  # from db, not from the root
    assert db_pager.group_by is None  # '...' = all labels
    labels = {"alertname": "A", "team": "db", "severity": "critical"}
    assert db_pager.group_labels(labels) == labels
    assert root.children[1].group_interval.total_seconds() == 300  # Alertmanager's default


def test_group_keys_are_stable_and_distinct_per_route(write_config) -> None:
    first = build_route_tree(write_config(TREE).route)
    again = build_route_tree(write_config(TREE).route)
    labels = {"alertname": "A"}
    assert first.group_key(labels) == again.group_key(labels)
    assert first.group_key(labels) != first.children[1].group_key(labels)
    assert first.group_key(labels) != first.group_key({"alertname": "B"})


@pytest.mark.parametrize(
    ("severity", "receivers"),
    [
        ("critical", ["pagerduty-high"]),
        ("error", ["pagerduty-high"]),
        ("warning", ["team-warnings"]),
        ("info", ["team-chat"]),
    ],
    ids=["critical pages", "error pages", "warning mails and chats", "info chats"],
)
def test_default_routing_by_severity(severity: str, receivers: list[str]) -> None:
    config = load_routing_config(DEFAULT_ROUTING_FILE)
    routes = build_route_tree(config.route).matches({"alertname": "X", "severity": severity})
    assert [route.receiver for route in routes] == receivers
    if severity == "warning":
        assert set(config.receiver("team-warnings").integrations()) == {"email", "chat"}


@pytest.mark.parametrize(
    ("text", "line", "field", "reason"),
    [
        (
            "route:\n  receiver: nobody\nreceivers:\n  - {name: a, chat: {}}\n",
            2,
            "route.receiver",
            "unknown receiver 'nobody'",
        ),
        (
            "route:\n  receiver: a\n  group_wait: soon\nreceivers:\n  - {name: a, chat: {}}\n",
            3,
            "route.group_wait",
            "invalid duration",
        ),
        (
            (
                "route:\n  receiver: a\n  routes:\n    - matchers: ['sev=~\"(\"']\nreceivers:\n"
                "  - {name: a, chat: {}}\n"
            ),
            4,
            "route.routes[0].matchers",
            "invalid regex",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n  - name: a\n",
            4,
            "receivers[0]",
            "at least one of pagerduty, email, chat",
        ),
        (
            "route:\n  receiver: a\nreceivers:\n  - name: a\n    chat: {}\n    mail: {}\n",
            6,
            "receivers[0].mail",
            "Extra inputs",
        ),
    ],
    ids=[
        "unknown receiver",
        "bad duration",
        "bad regex in a child route",
        "receiver without integration",
        "typo in a receiver",
    ],
)
def test_config_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, reason: str
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_routing_config(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), line, field)
    assert reason in str(caught.value)


def test_secrets_stay_out_of_repr_and_errors(write_config, monkeypatch, tmp_path: Path) -> None:
    config = write_config("""
        route: {receiver: pd}
        receivers:
          - name: pd
            pagerduty: {routing_key: "R0UT1NGKEY-secret"}
          - name: chat
            chat: {webhook_url: "https://hooks.example/T1/very-secret"}
    """)
    text = repr(config) + str(config.model_dump())
    assert "R0UT1NGKEY-secret" not in text and "very-secret" not in text
    from slaengine.credentials import read_secret
    from slaengine.router.chat import ChatSender

    sender = ChatSender.from_config(config.receiver("chat").chat)  # type: ignore[arg-type]
    assert "very-secret" not in repr(sender)
    monkeypatch.delenv("SLAENGINE_PAGERDUTY_ROUTING_KEY", raising=False)
    with pytest.raises(ConfigError, match="SLAENGINE_PAGERDUTY_ROUTING_KEY"):
        read_secret(None, None, "SLAENGINE_PAGERDUTY_ROUTING_KEY", "PagerDuty routing key")
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    assert read_secret(None, key_file, "UNUSED", "key") == "from-file"
