"""A test oracle for the KQL the query planner emits: a small interpreter, not a product engine.

``execute(text, tables)`` runs one Azure Resource Graph query over in-memory tables and
returns its rows as ARG's REST API would (``objectArray``: one dict per row, keyed by the
projected column names; dynamic values as JSON, strings as strings, null as ``None``).

The subset, and nothing more (anything else raises :class:`OracleError` naming it):

* tabular: a table name, ``| where``, ``| extend`` (several), ``| project`` with ``name =
  expr`` and ``['x']``/``["x"]`` names, ``| join kind=leftouter (subquery) on col``,
  ``| summarize take_anyif(...)``/``make_bag(...)``/``countif(...)`` ``by`` columns;
* scalar: string (with ``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\r``, ``\\uXXXX`` escapes), long,
  real and bool literals; column references; ``a.b['c'][0]`` on dynamic values; ``and``,
  ``or``, ``not()``; ``== != =~ !~ < <= > >=``; ``in !in in~ !in~`` with a list that may
  hold dynamic arrays (flattened); ``contains``, ``startswith``, ``endswith`` and their
  ``_cs`` forms; ``matches regex``; ``+ - *`` on longs; the functions ``gettype tostring
  todouble tobool tolower isnull isnotnull iff case min_of max_of array_length strlen
  bag_keys bag_pack pack strcat indexof substring``. (The compiler no longer emits
  ``take_anyif``, ``bag_pack``, ``min_of``, ``max_of``, ``gettype`` or the ``_cs`` operators,
  which have no evidence in Resource Graph; the oracle keeps them for its own tests.)

Semantics follow the KQL reference (learn.microsoft.com/kusto/query), cited where each
decision is made. What the reference leaves open is a :class:`Readings` choice; agreement
tests run under :data:`ALL_READINGS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.kqloracle.arg import SCHEMAS, arg_row, arg_tables, table_of
from tests.kqloracle.lexer import KqlSyntaxError
from tests.kqloracle.parser import parse
from tests.kqloracle.syntax import Query
from tests.kqloracle.tabular import Tables, run
from tests.kqloracle.values import ALL_READINGS, DEFAULT_READINGS, Kind, OracleError, Readings, to_json

Rows = list[dict[str, Any]]


def execute(query: str | Query, tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
            readings: Readings = DEFAULT_READINGS,
            schemas: Mapping[str, Mapping[str, Kind]] = SCHEMAS) -> Rows:
    """Run ``query`` (text or a parsed :class:`Query`) over ``tables`` (table name → JSON
    rows, ARG's tables by default); the rows as ARG returns them."""
    tree = parse(query) if isinstance(query, str) else query
    relation = run(tree, Tables(tables, schemas), readings)
    return [{name: to_json(value) for name, value in row.items()} for row in relation.rows]


__all__ = ["ALL_READINGS", "KqlSyntaxError", "OracleError", "Readings", "arg_row", "arg_tables", "execute",
           "parse", "table_of"]
