"""The KQL constructs a query uses, each named as ``../shared/arg-dialect/evidence.json`` names
it (docs/architecture.md, "Azure facts": Resource Graph runs a subset of KQL). The dialect test
checks every compiled query's constructs against that evidence; ``policyengine doctor`` probes
each class of them against the user's tenant."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from policyengine.kql.plan import Plan

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\(")
_WORD_OPERATORS = re.compile(r"(?<![\w\"'\]])(!?(?:contains|has|startswith|endswith|in|between|hasprefix|"
                             r"hassuffix|has_any|has_all)(?:_cs)?~?)(?=[\s(])")
_MATCHES = re.compile(r'matches\s+regex\s+("(?:[^"\\]|\\.)*")')
_SYMBOLS = re.compile(r"(=~|!~|==|!=)")
_ARITHMETIC = re.compile(r"(?<=[\w)\]])\s([-+*/%])\s")
_TABULAR = re.compile(r"\|\s*([a-z][a-z-]*)(?:\s+kind\s*=\s*(\w+))?")


def constructs(query: str) -> Iterator[str]:
    """The KQL constructs of one query."""
    for literal in _MATCHES.findall(query):
        yield 'matches regex "(?i)..."' if json.loads(literal).startswith("(?i)") else "matches regex"
    text = _STRING.sub('""', query)  # literals (and ["bracketed names"]) are data, not syntax
    yield from (f"{name}()" for name in _CALL.findall(text) if name.lower() not in ("in", "and", "or"))
    for word in _WORD_OPERATORS.findall(text):
        yield {"in": "in (", "!in": "!in (", "in~": "in~ ("}.get(word, word)
    yield from _SYMBOLS.findall(text)
    yield from (f"arithmetic a {symbol} b" for symbol in _ARITHMETIC.findall(text))
    yield from (f" {word} " for word in re.findall(r"\b(and|or)\b", text))
    for operator, kind in _TABULAR.findall(text):
        if operator == "join":
            yield f"join kind={kind}" if kind else "join (default kind)"
        elif operator in ("take", "limit"):
            yield "| take/limit"
        elif operator in ("order", "sort"):
            yield "| order/sort by"
        else:
            yield f"| {operator}"


def plan_constructs(plan: Plan) -> set[str]:
    """Every construct of the plan's queries: the fetch queries and the summaries."""
    found: set[str] = set()
    for query in plan.queries:
        for text in (query.text, query.summary):
            if text:
                found.update(constructs(text))
    return found
