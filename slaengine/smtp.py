"""The one SMTP sender (aiosmtplib), used by alert e-mails and report e-mails.

One connection per message. Failures are sorted for the outboxes: network trouble and 4xx
replies are RetryableDeliveryError, 5xx replies and features the server lacks are
FatalDeliveryError. Passwords never appear in errors or reprs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from slaengine.credentials import read_secret
from slaengine.errors import FatalDeliveryError, RetryableDeliveryError

PASSWORD_ENV = "SLAENGINE_SMTP_PASSWORD"


def smtp_password(
    username: str | None, password_file: Path | None, password_env: str | None = None
) -> str | None:
    """The SMTP password, looked up the same way for alert and report e-mails: none without a
    username; else from ``password_file``, else the variable ``password_env`` (default
    SLAENGINE_SMTP_PASSWORD). ConfigError when there is none."""
    if not username:
        return None
    return read_secret(None, password_file, password_env or PASSWORD_ENV, "SMTP password")


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    timeout: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False  # implicit TLS (port 465)
    # True: upgrade with STARTTLS and fail without it; False: never (a config's `starttls`,
    # the same for alert and report e-mails)
    start_tls: bool = False

    async def send(self, message: EmailMessage) -> dict[str, aiosmtplib.SMTPResponse]:
        """Send; returns the recipients the server refused while it took the mail for others."""
        try:
            refused, _ = await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as err:
            raise self._classify(err) from err
        return refused

    def _classify(self, err: Exception) -> Exception:
        server = f"SMTP {self.host}:{self.port}"
        if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
            if any(400 <= r.code < 500 for r in err.recipients):
                return RetryableDeliveryError(f"{server} deferred recipients: {text}")
            return FatalDeliveryError(f"{server} refused all recipients: {text}")
        if isinstance(err, aiosmtplib.SMTPResponseException):
            if 400 <= err.code < 500:
                return RetryableDeliveryError(f"{server} deferred: {err.code} {err.message}")
            return FatalDeliveryError(f"{server} refused: {err.code} {err.message}")
        # aiosmtplib raises the bare SMTPException only when the server lacks what the config
        # asks (STARTTLS, AUTH): retrying cannot help, unlike its connection and timeout errors
        if isinstance(err, aiosmtplib.SMTPNotSupported) or type(err) is aiosmtplib.SMTPException:
            return FatalDeliveryError(f"{server} does not support what the config asks: {err}")
        return RetryableDeliveryError(f"{server} unreachable: {err}")
