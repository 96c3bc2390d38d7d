"""The pure PagerDuty modules load without HTTP, Kafka or stream-processing libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("aiohttp", "faust", "aiokafka", "httpx2", "pagerduty")
PURE_MODULES = [
    "slaengine.pagerduty.events_payload",
    "slaengine.pagerduty.webhook",
    "slaengine.pagerduty.incidents",
    "slaengine.pagerduty.sync_plan",
    "slaengine.pagerduty.config",
    "slaengine.pagerduty.dev_events",
    "slaengine.commands.pagerduty",
]
# One interpreter imports the modules in turn and reports what each pulled in first.
PROBE = f"""
import importlib, json, sys
seen = {{}}
for name in {PURE_MODULES!r}:
    importlib.import_module(name)
    seen[name] = [m for m in {FORBIDDEN!r} if m in sys.modules]
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def loaded_by_module() -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


@pytest.mark.parametrize(
    "module", PURE_MODULES, ids=lambda name: f"{name.rsplit('.', 1)[1]} stays pure"
)
def test_pure_module_imports_no_io_libraries(loaded_by_module, module):
    assert loaded_by_module[module] == []
