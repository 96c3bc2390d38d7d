"""Alertmanager-style label matchers: ``name="value"``, ``name!=value``, ``name=~re``, ``name!~re``.

Used by routes, inhibit rules and silences, so the syntax is parsed in one place.
Regexes are anchored like Alertmanager's (``=~"crit.*"`` must match the whole value) and use
RE2 semantics like Alertmanager's: matching is linear in the label's length, so no matcher (a
silence is user input) can stall the event loop; patterns RE2 refuses (backreferences,
lookaround) are invalid matchers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

from slaengine.errors import SlaEngineError

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
OPERATORS = ("=", "!=", "=~", "!~")
MAX_PATTERN_LENGTH = 1000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is reported to the caller, not to stderr
_RE2_OPTIONS.max_mem = 8 << 20  # bounds the compiled program of a hostile pattern


class InvalidMatcherError(SlaEngineError, ValueError):
    """A matcher is not ``label<op>value`` with op one of = != =~ !~, or its regex is invalid."""


@dataclass(frozen=True)
class Matcher:
    name: str
    operator: str
    value: str
    _regex: Any = field(default=None, compare=False, repr=False)  # a compiled re2 pattern

    @classmethod
    def parse(cls, text: str) -> Matcher:
        if len(text) > MAX_PATTERN_LENGTH + 200:
            raise InvalidMatcherError(f"matcher {text[:40]!r}... is too long")
        found = _MATCHER.match(text)
        if not found:
            raise InvalidMatcherError(
                f"invalid matcher {text!r}: expected label<op>value with op one of = != =~ !~"
            )
        name, operator, value = found.groups()
        return cls.build(name, operator, _unquote(value))

    @classmethod
    def build(cls, name: str, operator: str, value: str) -> Matcher:
        if operator not in OPERATORS:
            raise InvalidMatcherError(
                f"invalid matcher operator {operator!r}: use one of = != =~ !~"
            )
        regex = None
        if operator in ("=~", "!~"):
            regex = compile_re2(name, operator, value)
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


def compile_re2(name: str, operator: str, value: str) -> Any:
    """The anchored RE2 pattern of a regex matcher; InvalidMatcherError saying why RE2 refuses."""
    if len(value) > MAX_PATTERN_LENGTH:
        raise InvalidMatcherError(
            f"regex in matcher {name}{operator}... is longer than {MAX_PATTERN_LENGTH} characters"
        )
    try:
        return re2.compile(f"^(?:{value})$", _RE2_OPTIONS)
    except re2.error as err:
        reason = (
            err.args[0].decode(errors="replace")
            if err.args and isinstance(err.args[0], bytes)
            else str(err)
        )
        raise InvalidMatcherError(
            f"invalid regex in matcher {name}{operator}{value!r}: {reason} "
            "(matchers use RE2 syntax, as in Alertmanager: no "
            "backreferences or lookaround)"
        ) from err


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].replace('\\"', '"')
    return value


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Matcher:
    return Matcher.parse(text)  # silences are checked per alert: compile each pattern once


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(_parse_cached(text) for text in texts)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)
