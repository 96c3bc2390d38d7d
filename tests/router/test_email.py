"""E-mail notifications arrive at a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import random
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from slaengine.alerts import Alert
from slaengine.errors import FatalDeliveryError, RetryableDeliveryError
from slaengine.router.email import EmailSender
from slaengine.router.senders import build_senders
from slaengine.router.service import AlertRouter

from .conftest import T0, FakeClock, free_port, make_alert
from .conftest import make_notification as notification

EMAIL_ROUTING = """
    route: {receiver: mail, group_by: [alertname, service], group_wait: 30s}
    receivers:
      - name: mail
        email:
          from: slaengine@example.com
          to: [oncall@example.com, sre@example.com]
          host: 127.0.0.1
          port: %d
"""


async def test_firing_and_resolved_mails_arrive_with_subject_and_body(
    smtp_server, write_config, clock: FakeClock, tmp_path: Path
) -> None:
    handler, port = smtp_server
    config = write_config(EMAIL_ROUTING % port)
    router = AlertRouter(config, tmp_path, build_senders(config), clock=clock, rng=random.Random(1))
    alert = Alert(
        labels={"alertname": "HighLatency", "severity": "warning", "service": "checkout"},
        status="firing",
        starts_at=T0,
        annotations={
            "summary": "p99 latency above 800 ms",
            "description": "checkout p99 is 1.2 s over the last 10 minutes",
            "runbook_url": "https://runbooks.example/latency",
        },
        value=1.2,
    )
    await router.receive(alert)
    clock.advance(30)
    await router.run_pending()
    await router.receive(make_alert("HighLatency", status="resolved", service="checkout"))
    clock.advance(300)
    await router.run_pending()
    await router.close()

    assert len(handler.messages) == 2
    firing, resolved = (
        message_from_bytes(m.content, policy=policy.default) for m in handler.messages
    )
    assert handler.messages[0].rcpt_tos == ["oncall@example.com", "sre@example.com"]
    assert firing["Subject"] == "[FIRING:1] HighLatency checkout (warning)"
    assert resolved["Subject"] == "[RESOLVED] HighLatency checkout (warning)"
    body = firing.get_content()
    for expected in (
        "p99 latency above 800 ms",
        "checkout p99 is 1.2 s",
        "Value: 1.2",
        "Runbook: https://runbooks.example/latency",
        "service=checkout",
    ):
        assert expected in body
    assert firing["References"] == resolved["References"]  # one thread per incident
    assert firing["Message-ID"] != resolved["Message-ID"]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.3.0 mailbox busy, try later", RetryableDeliveryError),
        ("554 5.7.1 message rejected", FatalDeliveryError),
    ],
    ids=["a 4xx reply is retried", "a 5xx reply is final"],
)
async def test_smtp_replies_map_to_retryable_or_fatal(smtp_server, reply: str, error: type) -> None:
    handler, port = smtp_server
    handler.reply = reply
    sender = EmailSender(host="127.0.0.1", port=port, sender="s@example.com", to=["o@example.com"])
    with pytest.raises(error, match=reply[:3]):
        await sender.send(notification("checkout", 1))


async def test_an_unreachable_smtp_server_is_retryable() -> None:
    sender = EmailSender(
        host="127.0.0.1",
        port=free_port(),
        sender="s@example.com",
        to=["o@example.com"],
        password="hunter2",
        username="u",
        timeout=2,
    )
    with pytest.raises(RetryableDeliveryError) as caught:
        await sender.send(notification("checkout", 1))
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(sender)


@pytest.mark.parametrize(
    ("reply", "error", "verb"),
    [
        ("451 4.3.0 mailbox busy, try later", RetryableDeliveryError, "deferred"),
        ("554 5.7.1 message rejected", FatalDeliveryError, "refused"),
    ],
    ids=["4xx", "5xx"],
)
async def test_alert_and_report_mail_sort_smtp_failures_alike(
    smtp_server, reply: str, error: type, verb: str
) -> None:
    from slaengine.report.config import SmtpConfig
    from slaengine.report.delivery import SmtpMailer

    handler, port = smtp_server
    handler.reply = reply
    alert_mail = EmailSender(
        host="127.0.0.1", port=port, sender="s@example.com", to=["o@example.com"]
    )
    report_mail = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port))
    expected = f"SMTP 127.0.0.1:{port} {verb}: {reply}"
    with pytest.raises(error) as from_alerts:
        await alert_mail.send(notification("checkout", 1))
    with pytest.raises(error) as from_reports:
        await report_mail.send(alert_mail.build_message(notification("checkout", 2)))
    assert str(from_alerts.value) == str(from_reports.value) == expected
