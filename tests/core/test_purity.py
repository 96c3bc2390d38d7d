"""The pure core imports no Kafka, Faust or HTTP code, so batch mode and tests need none."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "slaengine.events",
    "slaengine.config",
    "slaengine.slo",
    "slaengine.sli.engine",
    "slaengine.sli.query",
    "slaengine.sli.results",
    "slaengine.sli.fulfillment",
    "slaengine.batch",
    "slaengine.synthetic",
    "slaengine.yamlconfig",
    "slaengine.alerts",
    "slaengine.evaluator.rules",
    "slaengine.evaluator.transitions",
]
FORBIDDEN = ("faust", "aiokafka", "aiohttp", "mode")


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io_framework(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
