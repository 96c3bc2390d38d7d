"""The Sender protocol every receiver integration implements, and building senders from config.

Senders raise RetryableDeliveryError (429, 5xx, network; with ``retry_after`` when the receiver
said so) or FatalDeliveryError (the receiver rejected the message); the outbox does the rest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from slaengine.alerts import Notification
from slaengine.credentials import read_secret
from slaengine.router.config import (
    ChatIntegration,
    EmailIntegration,
    PagerDutyIntegration,
    RoutingConfig,
)


@runtime_checkable
class Sender(Protocol):
    name: str  # receiver type: "pagerduty" | "email" | "chat"

    async def send(self, notification: Notification) -> None: ...


SenderFactory = Callable[[Any], Sender]


def channel_of(receiver: str, integration: str) -> str:
    """The outbox channel of one receiver integration, e.g. "team-chat/chat"."""
    return f"{receiver}/{integration}"


def build_pagerduty_sender(integration: PagerDutyIntegration) -> Sender:
    import os

    from slaengine.pagerduty.sender import PagerDutySender  # written alongside, imported lazily

    routing_key = read_secret(
        integration.routing_key,
        integration.routing_key_file,
        "SLAENGINE_PAGERDUTY_ROUTING_KEY",
        "PagerDuty routing key",
    )
    events_url = integration.events_url or os.environ.get("SLAENGINE_PAGERDUTY_EVENTS_URL")
    options: dict[str, Any] = {"events_url": events_url} if events_url else {}
    sender: Sender = PagerDutySender(routing_key, **options)
    return LowUrgencySender(sender) if integration.urgency == "low" else sender


class LowUrgencySender:
    """Caps alert severities at ``warning`` so a severity_based PagerDuty service opens a
    low-urgency incident (PagerDuty's Events API has no urgency field of its own)."""

    LOW = ("warning", "info")

    def __init__(self, inner: Sender) -> None:
        self.inner = inner
        self.name = inner.name

    async def send(self, notification: Notification) -> None:
        await self.inner.send(cap_severity(notification, "warning", self.LOW))

    async def aclose(self) -> None:
        await close_sender(self.inner)


def cap_severity(
    notification: Notification, ceiling: str, allowed: tuple[str, ...]
) -> Notification:
    def capped(labels: Mapping[str, str]) -> dict[str, str]:
        if labels.get("severity", ceiling) in allowed:
            return dict(labels)
        return {**labels, "severity": ceiling}

    alerts = tuple(replace(alert, labels=capped(alert.labels)) for alert in notification.alerts)
    common = (
        capped(notification.common_labels)
        if "severity" in notification.common_labels
        else dict(notification.common_labels)
    )
    return replace(notification, alerts=alerts, common_labels=common)


async def close_sender(sender: object) -> None:
    """Release a sender's connections, whether it offers ``aclose()`` or a sync/async
    ``close()``."""
    closer = getattr(sender, "aclose", None) or getattr(sender, "close", None)
    if closer is not None:
        result = closer()
        if inspect.isawaitable(result):
            await result


def build_email_sender(integration: EmailIntegration) -> Sender:
    from slaengine.router.email import EmailSender

    return EmailSender.from_config(integration)


def build_chat_sender(integration: ChatIntegration) -> Sender:
    from slaengine.router.chat import ChatSender

    return ChatSender.from_config(integration)


DEFAULT_FACTORIES: Mapping[str, SenderFactory] = {
    "pagerduty": build_pagerduty_sender,
    "email": build_email_sender,
    "chat": build_chat_sender,
}


def build_senders(
    config: RoutingConfig, factories: Mapping[str, SenderFactory] = DEFAULT_FACTORIES
) -> dict[str, Sender]:
    """One sender per receiver integration, keyed by channel ``receiver/integration``."""
    senders: dict[str, Sender] = {}
    for receiver in config.receivers:
        for kind, integration in receiver.integrations().items():
            senders[channel_of(receiver.name, kind)] = factories[kind](integration)
    return senders


def channels_for(config: RoutingConfig, receiver: str) -> list[str]:
    return [channel_of(receiver, kind) for kind in config.receiver(receiver).integrations()]
