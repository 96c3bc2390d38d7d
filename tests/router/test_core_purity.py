"""The routing core stays free of I/O frameworks, so it runs anywhere and tests stay fast."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slaengine.router.senders import LowUrgencySender, cap_severity

from .conftest import make_notification

PURE_MODULES = [
    "matchers",
    "routing",
    "grouping",
    "inhibition",
    "silences",
    "dispatcher",
    "config",
    "alertmanager",
    "messages",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_core_module_imports_no_io_framework(module: str) -> None:
    code = (
        f"import sys, slaengine.router.{module}; "
        "print(sorted(m for m in ('aiohttp', 'faust', 'aiokafka', 'aiosmtplib', 'sqlite3') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


async def test_low_urgency_pagerduty_caps_severity_at_warning() -> None:
    seen = []

    class Recorder:
        name = "pagerduty"

        async def send(self, notification) -> None:
            seen.append(notification)

    critical = make_notification("checkout", 1)
    critical = cap_severity(critical, "critical", ())  # every alert critical
    await LowUrgencySender(Recorder()).send(critical)
    assert {a.severity for a in seen[0].alerts} == {"warning"}
    assert seen[0].common_labels["severity"] == "warning"
    assert seen[0].group_key == critical.group_key and seen[0].sequence == critical.sequence
