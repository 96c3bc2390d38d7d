"""Inhibition: a firing source alert mutes matching target alerts that share the ``equal`` labels.

Shipped defaults (routing.yaml): a page-level burn alert mutes the ticket-level one of the same
SLO; a service-down alert mutes that service's latency alerts. Muted alerts stay tracked by
their group and are notified once the source resolves, if they are still firing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slaengine.alerts import Alert
from slaengine.router.config import InhibitRuleConfig
from slaengine.router.matchers import Matcher, match_all, parse_matchers


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, config: InhibitRuleConfig) -> InhibitRule:
        return cls(
            parse_matchers(config.source_matchers),
            parse_matchers(config.target_matchers),
            tuple(config.equal),
        )

    def mutes(self, target: Alert, source: Alert) -> bool:
        return (
            source.status == "firing"
            and source.fingerprint != target.fingerprint
            and match_all(self.target, target.labels)
            and match_all(self.source, source.labels)
            and all(
                _label(source.labels, name) == _label(target.labels, name) for name in self.equal
            )
        )


def _label(labels: Mapping[str, str], name: str) -> str:
    return labels.get(name, "")


class Inhibitor:
    def __init__(self, rules: Iterable[InhibitRule]) -> None:
        self.rules = tuple(rules)

    def is_inhibited(self, alert: Alert, active: Iterable[Alert]) -> bool:
        """True if some firing alert in ``active`` mutes ``alert`` under some rule."""
        candidates = [rule for rule in self.rules if match_all(rule.target, alert.labels)]
        if not candidates:
            return False
        return any(rule.mutes(alert, source) for source in active for rule in candidates)
