"""`starttls` means the same for alert and report e-mails (issue 16: one SMTP sender): true
upgrades the connection and fails without STARTTLS, false never upgrades. Report e-mails with
`starttls: false` used to upgrade whenever the server offered it, so a relay with a certificate
the worker cannot verify refused the stakeholders' report while it took the pages; and a server
without STARTTLS (or AUTH) was retried for days as "unreachable" instead of failing once, saying
what it lacks."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from slaengine.errors import FatalDeliveryError, RetryableDeliveryError
from slaengine.report.config import SmtpConfig
from slaengine.report.delivery import SmtpMailer
from slaengine.router.config import EmailIntegration
from slaengine.router.email import EmailSender
from tests.router.conftest import RecordingSmtpHandler, free_port


@pytest.fixture
def relay_offering_starttls(tmp_path: Path) -> Iterator[tuple[RecordingSmtpHandler, int]]:
    """An SMTP relay that offers STARTTLS with a self-signed certificate (unverifiable)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=relay.invalid", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler, port = RecordingSmtpHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "s@acme.example", "o@acme.example", "SLA"
    mail.set_content("report")
    return mail


def senders(port: int, starttls: bool) -> list[Any]:
    alert = EmailSender.from_config(
        EmailIntegration(
            host="127.0.0.1",
            port=port,
            sender="s@acme.example",
            to=["o@acme.example"],
            starttls=starttls,
        )
    )
    report = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, starttls=starttls))
    return [alert.smtp, report]


def test_starttls_false_never_upgrades_alert_or_report_mail(relay_offering_starttls) -> None:
    handler, port = relay_offering_starttls
    for sender in senders(port, starttls=False):
        asyncio.run(sender.send(message()))
    assert len(handler.messages) == 2


def test_starttls_true_upgrades_both_and_an_unverifiable_certificate_fails_both(
    relay_offering_starttls,
) -> None:
    handler, port = relay_offering_starttls
    for sender in senders(port, starttls=True):
        with pytest.raises((RetryableDeliveryError, FatalDeliveryError), match="certificate"):
            asyncio.run(sender.send(message()))
    assert handler.messages == []


def test_starttls_true_without_the_server_offering_it_fails_for_good_on_both_not_unreachable() -> (
    None
):
    port = free_port()
    controller = Controller(RecordingSmtpHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for sender in senders(port, starttls=True):
            with pytest.raises(FatalDeliveryError, match="STARTTLS extension not supported"):
                asyncio.run(sender.send(message()))
    finally:
        controller.stop()
