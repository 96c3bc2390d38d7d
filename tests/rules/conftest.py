from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from slaengine import cli

# Sloth's golden files live in ../shared/ beside the checkout (CI, the team's machines); a clone
# without it, such as a user's, skips the tests that need them. SLAENGINE_SHARED_DIR points
# elsewhere, e.g. from a git worktree.
SHARED_DIR = Path(
    os.environ.get("SLAENGINE_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared"
)
SLOTH_FIXTURES = SHARED_DIR / "conformance" / "sloth"
NO_SLOTH_FIXTURES = (
    f"no Sloth conformance files at {SLOTH_FIXTURES} "
    "(the team's ../shared/; or set SLAENGINE_SHARED_DIR)"
)


@pytest.fixture
def sloth_fixtures() -> Path:
    if not SLOTH_FIXTURES.is_dir():
        pytest.skip(NO_SLOTH_FIXTURES)
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
