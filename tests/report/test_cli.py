"""``slaengine report`` argument checks: one-line errors, exit 2 for usage, 1 for the rest."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slaengine.cli import OneLineErrorParser
from slaengine.commands import report as report_command
from slaengine.errors import SlaEngineError


def parser() -> argparse.ArgumentParser:
    root = OneLineErrorParser(prog="slaengine")
    report_command.add_parser(root.add_subparsers(dest="command", parser_class=OneLineErrorParser))
    return root


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    events, config = tmp_path / "events.jsonl", tmp_path / "slo.yaml"
    events.write_text("")
    config.write_text("report: {}\n")
    return ["--events", str(events), "--config", str(config), "--out", str(tmp_path / "r.pdf")]


@pytest.mark.parametrize(
    ("month", "message"),
    [
        pytest.param("2026-13", "MM must be 01..12", id="month 13 is a usage error"),
        pytest.param("abc", "YYYY-MM", id="a word is a usage error"),
    ],
)
def test_a_malformed_month_exits_2_with_one_line(
    month: str, message: str, inputs: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["report", "--month", month, *inputs])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_future_month_is_an_error(inputs: list[str]) -> None:
    args = parser().parse_args(["report", "--month", "2027-01", *inputs])
    with pytest.raises(SlaEngineError, match="has not started yet"):
        args.func(args, now=datetime(2026, 11, 3, tzinfo=UTC))


def test_missing_input_files_are_named(inputs: list[str], tmp_path: Path) -> None:
    args = parser().parse_args(
        ["report", "--month", "2026-10", *inputs[:1], str(tmp_path / "missing.jsonl"), *inputs[2:]]
    )
    with pytest.raises(SlaEngineError, match=r"--events .*missing\.jsonl: no such file"):
        args.func(args)


def test_the_cli_main_turns_errors_into_one_line_and_exit_1(
    inputs: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from slaengine import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ["slaengine.commands.report"])
    assert cli.main(["report", "--month", "2099-01", *inputs]) == 1
    err = capsys.readouterr().err
    assert err.startswith("slaengine report: error: month 2099-01 has not started yet")
    assert err.count("\n") == 1
