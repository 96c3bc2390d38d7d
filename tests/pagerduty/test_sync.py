"""Escalation as code: `pagerduty sync` against the local REST API, via the real client."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import stat
from pathlib import Path

import pytest

from slaengine import cli
from slaengine.commands import pagerduty as pagerduty_command
from slaengine.errors import ConfigError
from slaengine.pagerduty.clients import build_rest_client
from slaengine.pagerduty.config import load_pagerduty_config
from slaengine.pagerduty.sender import PagerDutySender
from slaengine.pagerduty.sync import PagerDutyProvisioner, SyncError, format_report

EXAMPLE = Path(__file__).resolve().parents[2] / "alert_rules" / "pagerduty.yaml"
TOKEN = "test-rest-token"  # what the pagerduty_server fixture accepts


def run_sync(base_url: str, config_path: Path = EXAMPLE, token: str = TOKEN):
    client = build_rest_client(token, base_url)
    try:
        return PagerDutyProvisioner(client).sync(load_pagerduty_config(config_path))
    finally:
        client.close()


def edited_example(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "pagerduty.yaml"
    path.write_text(text.replace(old, new))
    return path


async def test_second_sync_changes_nothing(pagerduty_server):
    first = await asyncio.to_thread(run_sync, pagerduty_server.base_url)
    second = await asyncio.to_thread(run_sync, pagerduty_server.base_url)

    assert (first.count("created"), first.count("updated")) == (9, 0)
    assert (second.changed, second.count("unchanged")) == (0, 9)
    assert format_report(second).endswith("0 created, 0 updated, 9 unchanged")
    assert second.routing_key == first.routing_key


async def test_sync_provisions_the_escalation_chain_schedule_and_service(pagerduty_server):
    report = await asyncio.to_thread(run_sync, pagerduty_server.base_url)
    rest = pagerduty_server.state.rest

    [policy] = rest.objects["escalation_policies"].values()
    assert [r["escalation_delay_in_minutes"] for r in policy["escalation_rules"]] == [5, 15, 30]
    last_target = policy["escalation_rules"][2]["targets"][0]
    assert last_target["type"] == "user_reference"
    assert rest.objects["users"][last_target["id"]]["email"] == "margaret@example.com"
    primary = next(s for s in rest.objects["schedules"].values() if s["name"] == "checkout-primary")
    [layer] = primary["schedule_layers"]
    assert layer["rotation_turn_length_seconds"] == 7 * 24 * 3600
    assert [rest.objects["users"][u["user"]["id"]]["name"] for u in layer["users"]] == [
        "Ada Lovelace",
        "Grace Hopper",
        "Linus Torvalds",
    ]
    [service] = rest.objects["services"].values()
    assert service["escalation_policy"]["id"] == policy["id"]
    assert service["incident_urgency_rule"] == {"type": "constant", "urgency": "severity_based"}
    assert report.routing_key is not None and len(report.routing_key) == 32


@pytest.mark.parametrize(
    "severity, urgency",
    [("critical", "high"), ("warning", "low")],
    ids=["critical pages with high urgency", "warning opens low urgency"],
)
async def test_the_provisioned_routing_key_routes_events_to_the_service(
    pagerduty_server, make_notification, make_alert, severity, urgency
):
    report = await asyncio.to_thread(run_sync, pagerduty_server.base_url)
    sender = PagerDutySender(str(report.routing_key), pagerduty_server.base_url)
    await sender.send(make_notification(make_alert(severity=severity)))
    await sender.aclose()

    [incident] = pagerduty_server.state.ledger.incidents.values()
    assert incident.service_id == report.service_id
    assert incident.urgency == urgency


async def test_a_changed_config_updates_only_what_differs(pagerduty_server, tmp_path):
    await asyncio.to_thread(run_sync, pagerduty_server.base_url)
    changed = edited_example(
        tmp_path, "{name: L2 secondary, delay_minutes: 15", "{name: L2 secondary, delay_minutes: 20"
    )

    report = await asyncio.to_thread(run_sync, pagerduty_server.base_url, changed)

    assert [(c.kind, c.action, c.fields) for c in report.changes if c.action != "unchanged"] == [
        ("escalation_policy", "updated", ("escalation_rules",))
    ]
    [policy] = pagerduty_server.state.rest.objects["escalation_policies"].values()
    assert [r["escalation_delay_in_minutes"] for r in policy["escalation_rules"]] == [5, 20, 30]


async def test_drift_made_in_pagerduty_is_reverted(pagerduty_server):
    await asyncio.to_thread(run_sync, pagerduty_server.base_url)
    [service] = pagerduty_server.state.rest.objects["services"].values()
    service["description"] = "edited by hand in the web UI"
    service["acknowledgement_timeout"] = None

    report = await asyncio.to_thread(run_sync, pagerduty_server.base_url)

    [update] = [c for c in report.changes if c.action == "updated"]
    assert (update.kind, set(update.fields)) == (
        "service",
        {"description", "acknowledgement_timeout"},
    )
    assert service is not pagerduty_server.state.rest.objects["services"][service["id"]]
    assert (
        pagerduty_server.state.rest.objects["services"][service["id"]]["description"]
        == "Checkout SLOs evaluated by slaengine"
    )


async def test_a_wrong_token_fails_with_a_clear_error(pagerduty_server):
    with pytest.raises(SyncError, match="401") as caught:
        await asyncio.to_thread(run_sync, pagerduty_server.base_url, EXAMPLE, "wrong-token")
    assert "wrong-token" not in str(caught.value)


def test_unknown_schedule_in_a_level_is_reported_with_file_and_line(tmp_path):
    path = edited_example(
        tmp_path,
        "targets: [{schedule: checkout-secondary}]",
        "targets: [{schedule: checkout-tertiary}]",
    )
    with pytest.raises(ConfigError, match="unknown schedule 'checkout-tertiary'") as caught:
        load_pagerduty_config(path)
    assert caught.value.file == str(path)


def test_a_level_without_delay_is_reported_at_its_line(tmp_path):
    path = edited_example(tmp_path, "{name: L3 manager, delay_minutes: 30, ", "{name: L3 manager, ")
    with pytest.raises(ConfigError) as caught:
        load_pagerduty_config(path)
    assert caught.value.field == "escalation_policy.levels[2].delay_minutes"
    line = EXAMPLE.read_text().splitlines()[caught.value.line - 1]
    assert "L3 manager" in line


def parse(argv: list[str]) -> argparse.Namespace:
    parser = cli.OneLineErrorParser(prog="slaengine")
    pagerduty_command.add_parser(
        parser.add_subparsers(dest="command", parser_class=cli.OneLineErrorParser)
    )
    return parser.parse_args(argv)


async def test_cli_sync_prints_a_summary_and_writes_the_routing_key(
    pagerduty_server, tmp_path, capsys
):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    key_file = tmp_path / "routing.key"
    args = parse(
        [
            "pagerduty",
            "sync",
            "--config",
            str(EXAMPLE),
            "--api-url",
            pagerduty_server.base_url,
            "--token-file",
            str(token_file),
            "--routing-key-file",
            str(key_file),
        ]
    )

    assert await asyncio.to_thread(args.func, args) == 0
    assert await asyncio.to_thread(args.func, args) == 0

    out = capsys.readouterr().out
    assert "9 created, 0 updated, 0 unchanged" in out
    assert "0 created, 0 updated, 9 unchanged" in out
    assert "escalation_policy  created    checkout-escalation" in out
    key = key_file.read_text().strip()
    assert len(key) == 32 and key not in out and TOKEN not in out
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_cli_reports_a_bad_config_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["slaengine.commands.pagerduty"])
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_API_TOKEN", TOKEN)
    broken = tmp_path / "pagerduty.yaml"
    shutil.copy(EXAMPLE, broken)
    broken.write_text(broken.read_text().replace("num_loops: 1", "num_loops: many"))

    code = cli.main(["pagerduty", "sync", "--config", str(broken)])

    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert f"{broken}:" in err and "escalation_policy.num_loops" in err


def test_cli_without_a_token_says_where_to_put_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["slaengine.commands.pagerduty"])
    monkeypatch.delenv("SLAENGINE_PAGERDUTY_API_TOKEN", raising=False)
    assert cli.main(["pagerduty", "sync", "--config", str(EXAMPLE)]) == 1
    assert "SLAENGINE_PAGERDUTY_API_TOKEN" in capsys.readouterr().err


def test_dev_command_rejects_a_bad_port(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["slaengine.commands.pagerduty"])
    with pytest.raises(SystemExit) as caught:
        cli.main(["dev", "pagerduty", "--port", "99999"])
    assert caught.value.code == 2
    assert "port out of range" in capsys.readouterr().err
