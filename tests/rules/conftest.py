from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from slaengine import cli

SLOTH_FIXTURES = Path(__file__).parents[2] / ".." / "shared" / "conformance" / "sloth"


@pytest.fixture
def sloth_fixtures() -> Path:
    if not SLOTH_FIXTURES.is_dir():
        pytest.fail(f"Sloth conformance fixtures missing at {SLOTH_FIXTURES.resolve()}")
    return SLOTH_FIXTURES


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch):
    """Run ``slaengine`` through the real CLI entry point with the rules commands registered."""
    importlib.import_module("slaengine.commands.rules")
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["slaengine.commands.rules"])

    def run(*argv: str) -> int:
        try:
            return cli.main(list(argv))
        except SystemExit as exit_:  # argparse errors
            return int(exit_.code or 0)

    return run
