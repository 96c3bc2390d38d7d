"""Alertmanager-style label matchers: ``name="value"``, ``name!=value``, ``name=~re``, ``name!~re``.

Used by routes, inhibit rules and silences, so the syntax is parsed in one place.
Regexes are anchored like Alertmanager's (``=~"crit.*"`` must match the whole value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from slaengine.errors import SlaEngineError

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')
OPERATORS = ("=", "!=", "=~", "!~")


class InvalidMatcherError(SlaEngineError, ValueError):
    """A matcher is not ``label<op>value`` with op one of = != =~ !~, or its regex is invalid."""


@dataclass(frozen=True)
class Matcher:
    name: str
    operator: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _MATCHER.match(text)
        if not found:
            raise InvalidMatcherError(
                f"invalid matcher {text!r}: expected label<op>value with op one of = != =~ !~")
        name, operator, value = found.groups()
        return cls.build(name, operator, _unquote(value))

    @classmethod
    def build(cls, name: str, operator: str, value: str) -> Matcher:
        if operator not in OPERATORS:
            raise InvalidMatcherError(f"invalid matcher operator {operator!r}: use one of = != =~ !~")
        regex = None
        if operator in ("=~", "!~"):
            try:
                regex = re.compile(f"^(?:{value})$")
            except re.error as err:
                raise InvalidMatcherError(f"invalid regex in matcher {name}{operator}{value!r}: {err}") from err
        return cls(name, operator, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        # a missing label is the empty string, as in Alertmanager
        actual = labels.get(self.name, "")
        if self.operator == "=":
            return actual == self.value
        if self.operator == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.match(actual) is not None
        return found if self.operator == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.operator}"{self.value}"'


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].replace('\\"', '"')
    return value


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(Matcher.parse(text) for text in texts)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)
