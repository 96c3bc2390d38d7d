"""E-mail receiver: one message per notification through SMTP (aiosmtplib).

Message-IDs derive from the notification id and References from the group key, so mail clients
thread an incident's trigger, repeats and resolve together. Sending (and sorting failures into
retryable and fatal) is slaengine.smtp's.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

from slaengine.alerts import Notification
from slaengine.mail_headers import header_value
from slaengine.router.config import EmailIntegration
from slaengine.router.messages import render_body, render_title
from slaengine.smtp import SmtpSender, smtp_password


class EmailSender:
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        to: list[str],
        starttls: bool = False,
        use_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.sender, self.to = sender, list(to)
        self.smtp = SmtpSender(
            host=host,
            port=port,
            timeout=timeout,
            username=username,
            password=password,
            use_tls=use_tls,
            start_tls=starttls,
        )

    @classmethod
    def from_config(cls, config: EmailIntegration) -> EmailSender:
        password = smtp_password(config.username, config.password_file)
        return cls(
            host=config.host,
            port=config.port,
            sender=config.sender,
            to=config.to,
            starttls=config.starttls,
            use_tls=config.use_tls,
            username=config.username,
            password=password,
            timeout=config.timeout.total_seconds(),
        )

    def __repr__(self) -> str:  # never show the password
        return f"EmailSender(host={self.smtp.host!r}, port={self.smtp.port}, to={self.to!r})"

    def build_message(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = header_value(render_title(notification))  # labels may hold CR/LF
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = formatdate(notification.created_at.timestamp())
        domain = self.sender.rpartition("@")[2] or "slaengine"
        message["Message-ID"] = f"<{notification.group_key}.{notification.sequence}@{domain}>"
        message["References"] = f"<{notification.group_key}@{domain}>"
        message["X-Slaengine-Group-Key"] = notification.group_key
        message["X-Slaengine-Status"] = notification.status
        message.set_content(render_body(notification))
        return message

    async def send(self, notification: Notification) -> None:
        await self.smtp.send(self.build_message(notification))
