"""Small PromQL text helpers: window templating, label filters, Go-style numbers, syntax checks.

There is no PromQL parser in Python; ``check_query_syntax`` catches the
mistakes people make in YAML (unbalanced brackets, unclosed strings), and
``promtool check rules`` remains the authority on the generated files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
_ANY_TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def render_window(query: str, window: str) -> str:
    """Replace ``{{.window}}`` (any spacing) by a Prometheus duration."""
    return WINDOW_PLACEHOLDER.sub(window, query)


def check_query_template(query: str) -> None:
    """Raise ValueError unless the query is a valid ``{{.window}}`` template."""
    if not query or not query.strip():
        raise ValueError("query is required")
    if not WINDOW_PLACEHOLDER.search(query):
        raise ValueError("query must contain the {{.window}} placeholder")
    leftover = _ANY_TEMPLATE_ACTION.search(WINDOW_PLACEHOLDER.sub("", query))
    if leftover:
        raise ValueError(
            f"unsupported template action {leftover.group(0)!r}: only {{{{.window}}}} is known"
        )
    check_query_syntax(render_window(query, "1m"))


def check_query_syntax(query: str) -> None:
    """Raise ValueError on unbalanced brackets or unterminated string literals."""
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for index, char in enumerate(query):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in closing and (not stack or stack.pop() != closing[char]):
            raise ValueError(f"unbalanced {char!r} at character {index + 1}")
    if quote:
        raise ValueError(f"unterminated string literal starting with {quote}")
    if stack:
        raise ValueError(f"unclosed {stack[-1]!r}")


def is_label_name(name: str) -> bool:
    return bool(_LABEL_NAME.match(name)) and name != "__name__"


def label_filter(labels: Mapping[str, str]) -> str:
    """``{a="1", b="2"}`` with sorted names, as Prometheus prints a label set."""
    body = ", ".join(f"{name}={json.dumps(labels[name])}" for name in sorted(labels))
    return "{" + body + "}"


def format_number(value: float) -> str:
    """Shortest round-trip form without a trailing ``.0`` (Go's ``%g``/``%v``): 14.4, 6, 1e-05."""
    text = repr(float(value))
    return text.removesuffix(".0")
