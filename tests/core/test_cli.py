"""The command line: every subcommand has help; bad input is one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slaengine.cli import COMMAND_MODULES, build_parser

REPO = Path(__file__).resolve().parents[2]
SUBCOMMANDS = [
    "worker",
    "produce",
    "generate",
    "compute",
    "report",
    "forecast",
    "rules",
    "validate",
    "routing",
    "pagerduty",
    "dev",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaengine.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_every_wired_module_registers_a_subcommand() -> None:
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(SUBCOMMANDS) <= set(choices)
    assert len(COMMAND_MODULES) >= 8


@pytest.mark.parametrize(
    "command", [[], *[[c] for c in SUBCOMMANDS]], ids=["top level", *SUBCOMMANDS]
)
def test_help_works(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: slaengine" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--no-such-flag"],
        ["compute", "--bogus"],
        ["generate", "--month", "2026-13", "--out", "/tmp/x.ndjson"],
        ["compute", "--events", "/no/such/file.ndjson", "--config", "slaengine/data/slo.yaml"],
        ["produce", "/no/such/file.ndjson"],
    ],
    ids=[
        "unknown top-level flag",
        "unknown compute flag",
        "a month that does not exist",
        "a missing event log",
        "a missing file to produce",
    ],
)
def test_bad_input_gives_a_one_line_error(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0]


def test_a_bad_slo_config_names_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(
        "slos:\n  - name: api\n    sli: availability\n    service: a\n    target: 120\n"
    )
    events = tmp_path / "events.ndjson"
    events.write_text("")
    result = run("compute", "--events", str(events), "--config", str(config))
    assert result.returncode == 1
    assert f"{config}:5: slos[0].target: Input should be less than or equal to 100" in result.stderr


def test_generate_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.ndjson"
        assert (
            run(
                "generate", "--days", "0.05", "--seed", "9", "--out", str(out), "--no-progress"
            ).returncode
            == 0
        )
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] and outputs[0].count("\n") > 10
