"""Expand the small subset of Prometheus annotation templates slaengine's rules use.

Supported: ``{{ $labels.name }}``, ``{{ $value }}`` and ``{{ printf "%.2f" $value }}``
(also with ``$labels.x``). Anything else is left as written, visibly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from slaengine.rules.promql import format_number

_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PRINTF = re.compile(r'^printf\s+"([^"]*)"\s+(\S+)$')


def _resolve(term: str, labels: Mapping[str, str], value: float | None) -> str | float | None:
    if term == "$value":
        return value
    if term.startswith("$labels."):
        return labels.get(term[len("$labels.") :], "")
    return None


def expand_template(text: str, labels: Mapping[str, str], value: float | None) -> str:
    def replace(match: re.Match[str]) -> str:
        action = match.group(1)
        printf = _PRINTF.match(action)
        if printf:
            resolved = _resolve(printf.group(2), labels, value)
            if resolved is None:
                return match.group(0)
            try:
                return printf.group(1) % resolved
            except (TypeError, ValueError):
                return match.group(0)
        resolved = _resolve(action, labels, value)
        if resolved is None:
            return "<no value>" if action == "$value" else match.group(0)
        return format_number(resolved) if isinstance(resolved, float) else resolved

    return _ACTION.sub(replace, text)


def expand_all(
    templates: Mapping[str, str], labels: Mapping[str, str], value: float | None
) -> dict[str, str]:
    return {key: expand_template(text, labels, value) for key, text in templates.items()}
