"""``slaengine routing``: check and test, with one-line errors and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from slaengine.cli import OneLineErrorParser
from slaengine.errors import SlaEngineError
from slaengine.router import cli


def run(argv: list[str]) -> int:
    parser = OneLineErrorParser(prog="slaengine")
    cli.add_parser(parser.add_subparsers(dest="command", parser_class=OneLineErrorParser))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SlaEngineError as err:  # what slaengine.cli.main does
        print(f"slaengine routing: error: {err}", file=sys.stderr)
        return 1


def test_check_prints_the_default_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["routing", "check"]) == 0
    out = capsys.readouterr().out
    assert 'severity=~"critical|error" -> pagerduty-high' in out and out.rstrip().endswith("OK")


def test_test_shows_receiver_and_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            [
                "routing",
                "test",
                "alertname=ErrorBudgetBurnRate",
                "severity=critical",
                "service=checkout",
                "slo=availability",
                "window=1h",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("pagerduty-high ") and "'window'" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["routing", "test", "severity"], "not NAME=VALUE"),
        (["routing", "check", "--config", "/nonexistent/routing.yaml"], "cannot read file"),
    ],
    ids=["label without value", "missing file"],
)
def test_bad_input_is_one_line_and_exit_1(capsys, argv: list[str], message: str) -> None:
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_invalid_config_names_the_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("route:\n  receiver: ghost\nreceivers:\n  - {name: a, chat: {}}\n")
    assert run(["routing", "check", "--config", str(path)]) == 1
    assert f"{path}:2: route.receiver: unknown receiver 'ghost'" in capsys.readouterr().err
