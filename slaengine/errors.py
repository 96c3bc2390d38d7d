"""The one error hierarchy of slaengine.

Every error a user can cause or an operator must act on derives from
``SlaEngineError``; the docstring of each class says what to do about it.
"""

from __future__ import annotations


class SlaEngineError(Exception):
    """Root of every slaengine error."""


class ConfigError(SlaEngineError):
    """A configuration file is invalid: fix the file at the place named in the message."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = ":".join(str(part) for part in (file, line) if part is not None)
        prefix = f"{where}: " if where else ""
        field_part = f"{field}: " if field else ""
        super().__init__(f"{prefix}{field_part}{message}")


class InvalidEventError(SlaEngineError):
    """An event does not follow its contract (docs/events.md); it is dead-lettered, not
    processed."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason  # short machine label, used as a metric label value
        self.detail = detail or reason  # human-readable explanation
        super().__init__(self.detail)


class DeliveryError(SlaEngineError):
    """A notification could not be delivered."""


class RetryableDeliveryError(DeliveryError):
    """The receiver is temporarily unavailable (429, 5xx, network): the outbox retries with
    backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class FatalDeliveryError(DeliveryError):
    """The receiver rejected the notification (4xx other than 429): fix the payload or credentials;
    it is not retried."""


class KafkaUnavailableError(SlaEngineError):
    """The Kafka bootstrap servers do not answer: start the broker (scripts/kafka-local start) or
    fix SLAENGINE_KAFKA_BOOTSTRAP."""
