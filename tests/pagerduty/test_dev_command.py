"""`slaengine dev pagerduty` starts a usable local PagerDuty (a real child process)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

LAUNCH = (
    "import sys; from slaengine import cli; "
    "cli.COMMAND_MODULES = ['slaengine.commands.pagerduty']; "
    "sys.exit(cli.main(sys.argv[1:]))"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dev_process():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "dev", "pagerduty", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc, port
    proc.terminate()
    proc.wait(timeout=10)


def test_dev_pagerduty_serves_the_events_api(dev_process):
    proc, port = dev_process
    banner = proc.stdout.readline()
    assert f"http://127.0.0.1:{port}/v2/enqueue" in banner
    base = f"http://127.0.0.1:{port}"
    event = {
        "routing_key": "0" * 32,
        "event_action": "trigger",
        "dedup_key": "demo",
        "payload": {"summary": "demo", "source": "cli-test", "severity": "info"},
    }
    for _ in range(50):  # the banner is printed just before the socket is bound
        try:
            request = urllib.request.Request(
                f"{base}/v2/enqueue",
                json.dumps(event).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=2) as resp:
                assert resp.status == 202
            break
        except OSError:
            proc.poll()
            assert proc.returncode is None
            time.sleep(0.1)
    with urllib.request.urlopen(f"{base}/_dev/incidents", timeout=2) as resp:
        [incident] = json.load(resp)["incidents"]
    assert (incident["incident_key"], incident["urgency"]) == ("demo", "low")
