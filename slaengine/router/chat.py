"""Chat receiver: a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).

The webhook URL embeds a token, so it is a secret: repr() and errors show only its host.
Text built from labels is escaped (``&``, ``<``, ``>`` as Slack asks), so a label value such as
``<!channel>`` shows as text instead of pinging everyone.
429 (with Retry-After), 5xx and network errors are retryable; other 4xx are fatal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from slaengine.alerts import Notification
from slaengine.credentials import read_secret
from slaengine.errors import FatalDeliveryError, RetryableDeliveryError
from slaengine.router.config import ChatIntegration
from slaengine.router.messages import render_alert, render_title

COLORS = {"critical": "#d00000", "error": "#e85d04", "warning": "#ffba08", "info": "#3a86ff"}
RESOLVED_COLOR = "#2b9348"


class ChatSender:
    name = "chat"

    def __init__(
        self, webhook_url: str, timeout: float = 10.0, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._url = webhook_url
        self.host = urlsplit(webhook_url).netloc or "?"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    @classmethod
    def from_config(cls, config: ChatIntegration) -> ChatSender:
        url = read_secret(
            config.webhook_url,
            config.webhook_url_file,
            "SLAENGINE_CHAT_WEBHOOK_URL",
            "chat webhook URL",
        )
        return cls(url, timeout=config.timeout.total_seconds())

    def __repr__(self) -> str:
        return f"ChatSender(host={self.host!r})"

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    def build_payload(self, notification: Notification) -> dict[str, Any]:
        severity = notification.common_labels.get("severity", "")
        color = (
            RESOLVED_COLOR if notification.status == "resolved" else COLORS.get(severity, "#888888")
        )
        title = escape_chat(render_title(notification))
        return {
            "text": title,
            "attachments": [
                {"color": color, "text": escape_chat(render_alert(alert)), "fallback": title}
                for alert in notification.alerts
            ],
            # not shown by Slack; lets a receiver deduplicate and order replays
            "notification_id": notification.notification_id,
            "group_key": notification.group_key,
            "status": notification.status,
            "occurrences": notification.occurrences,
        }

    async def send(self, notification: Notification) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Idempotency-Key": notification.notification_id}
        try:
            async with self._session.post(
                self._url,
                json=self.build_payload(notification),
                headers=headers,
                timeout=self.timeout,
            ) as response:
                if response.status < 300:
                    return
                body = (await response.text())[:200]
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as err:
            raise RetryableDeliveryError(
                f"chat webhook {self.host} unreachable: {type(err).__name__}"
            ) from err
        text = f"chat webhook {self.host} answered {status}: {body}"
        if status == 429 or status >= 500:
            raise RetryableDeliveryError(text, retry_after=retry_after)
        raise FatalDeliveryError(text)


def escape_chat(text: str) -> str:
    """Slack's control characters as entities: no mentions, links or markup from data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; HTTP dates are rare for webhooks)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None
