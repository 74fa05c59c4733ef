"""The oracle's abstract syntax: small frozen nodes, one per construct it accepts."""

from __future__ import annotations

from dataclasses import dataclass

from tests.kqloracle.values import Value

# -- scalar expressions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Member:
    """``base.key`` or ``base["key"]``: a property of a dynamic bag."""

    base: Expr
    key: str


@dataclass(frozen=True)
class Index:
    """``base[0]``: an element of a dynamic array."""

    base: Expr
    index: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary:
    """``and or == != =~ !~ < <= > >= + - *``, the ``contains``/``startswith``/``endswith``
    family and ``matches regex`` (``op`` is ``"matches regex"``)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class InList:
    """``left in (items)``; ``op`` is ``in``, ``!in``, ``in~`` or ``!in~``."""

    op: str
    left: Expr
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Negate:
    operand: Expr


Expr = Literal | Column | Member | Index | Call | Binary | InList | Negate

# -- tabular operators ----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str


@dataclass(frozen=True)
class Where:
    predicate: Expr


@dataclass(frozen=True)
class Extend:
    columns: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Project:
    columns: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Join:
    kind: str
    right: Query
    on: tuple[str, ...]


@dataclass(frozen=True)
class Summarize:
    aggregates: tuple[tuple[str, Call], ...]
    by: tuple[str, ...]


Operator = Where | Extend | Project | Join | Summarize


@dataclass(frozen=True)
class Query:
    source: Table | Query
    operators: tuple[Operator, ...]
