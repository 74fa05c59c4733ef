"""The rule IR: immutable, typed, free of YAML. Both back ends (the Python evaluator and the
KQL compiler) read only this.

Source spans are kept on every node for messages but excluded from equality, so two rules
that say the same thing are equal wherever they were written.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from policyengine.errors import Span
from policyengine.operators import OPERATORS, describe
from policyengine.paths import FieldPath


class Severity(enum.IntEnum):
    """Ordered so that ``--fail-on high`` means ``severity >= Severity.HIGH``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class OnMissing(enum.Enum):
    """What a comparison yields when the value it reads is absent."""

    FAIL = "fail"
    PASS = "pass"
    UNKNOWN = "unknown"


class Scope(enum.Enum):
    """Where a related resource lives: under the resource, or in its subscription."""

    CHILD = "child"
    SUBSCRIPTION = "subscription"


class SourceKind(enum.Enum):
    """Observed data (an export, a live scan) shows actual state; declared data (a template,
    a plan) shows desired state. Absent data means different things in each."""

    OBSERVED = "observed"
    DECLARED = "declared"


@dataclass(frozen=True)
class Compare:
    """``{field: path, <op>: value}``: one operator applied to the value at ``path``."""

    path: FieldPath
    op: str
    value: Any = field(hash=False)
    case_sensitive: bool = False
    on_missing: OnMissing | None = None
    span: Span | None = field(default=None, compare=False)

    @functools.cached_property
    def expected_text(self) -> str:
        """What the comparison expects, in words (computed once: evidence needs it often)."""
        return describe(self.op, self.value)


@dataclass(frozen=True)
class Count:
    """``{field: path, count: {where: cond, <numeric op>: n}}``: how many elements of the
    array at ``path`` satisfy ``where`` (all of them without one), compared with ``n``."""

    path: FieldPath
    op: str
    value: int | float
    where: Condition | None = None
    span: Span | None = field(default=None, compare=False)

    @functools.cached_property
    def expected_text(self) -> str:
        return f"count {describe(self.op, self.value)}"

    def holds_for(self, matched: int) -> bool:
        """Whether ``matched`` elements satisfy the count's comparison."""
        return bool(OPERATORS[self.op].predicate(matched, self.value, True))

    @property
    def wants_none(self) -> bool:
        """Whether no element may match (``less: 1``, ``equals: 0``): a firewall rule open to
        every Azure service."""
        return self.holds_for(0) and not self.holds_for(1)


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Not:
    item: Condition
    span: Span | None = field(default=None, compare=False)


Condition = Compare | Count | AllOf | AnyOf | Not


@dataclass(frozen=True)
class Related:
    """Data a rule needs beyond the resource itself: a child resource (a server parameter,
    the ATP setting) or a subscription-scope resource (the Defender pricing); with the name
    :data:`EVERY`, every resource of the type, as an array (a server's firewall rules)."""

    name: str
    type: str
    resource_name: str
    scope: Scope = Scope.CHILD
    default: Any = field(default=None, hash=False)
    span: Span | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """How children are indexed on a record: lower-case type and name."""
        return (self.type.lower(), self.resource_name.lower())

    @property
    def is_list(self) -> bool:
        return self.resource_name == EVERY

    @property
    def shown(self) -> str:
        """``configurations 'require_secure_transport'``, ``every firewallRules``."""
        kind = self.type.split("/", 1)[1]
        return f"every {kind.rsplit('/', 1)[-1]}" if self.is_list else f"{kind} '{self.resource_name}'"


#: The name of a related entry that stands for every resource of its type (no ARM name has a
#: ``*``): rules read them as an array, with ``count``.
EVERY = "*"


@dataclass(frozen=True)
class Remediation:
    text: str
    portal: str | None = None
    cli: str | None = None


@dataclass(frozen=True)
class Metadata:
    id: str
    title: str
    severity: Severity
    description: str
    remediation: Remediation
    references: tuple[str, ...] = ()
    controls: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleTest:
    """An inline test: a resource, the related data it comes with, the expected verdict."""

    name: str
    resource: Any = field(hash=False)
    related: Any = field(hash=False)
    source: SourceKind
    expect: str
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Rule:
    metadata: Metadata
    resource_type: str
    condition: Condition
    where: Condition | None = None
    related: tuple[Related, ...] = ()
    on_missing: OnMissing = OnMissing.UNKNOWN
    tests: tuple[RuleTest, ...] = ()
    span: Span | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return self.metadata.id

    def related_named(self, name: str) -> Related | None:
        for rel in self.related:
            if rel.name == name:
                return rel
        return None


def children(node: Condition) -> list[tuple[Condition, tuple[str | int, ...]]]:
    """The direct sub-conditions of a node, each with its place under the node as a rule
    writes it (``("allOf", 0)``, ``("not",)``, ``("count", "where")``). The one place that
    knows the tree's shape: :func:`walk`, the linter and the back ends' traversals use it."""
    if isinstance(node, AllOf | AnyOf):
        key = "allOf" if isinstance(node, AllOf) else "anyOf"
        return [(item, (key, i)) for i, item in enumerate(node.items)]
    if isinstance(node, Not):
        return [(node.item, ("not",))]
    if isinstance(node, Count) and node.where is not None:
        return [(node.where, ("count", "where"))]
    return []


def walk(node: Condition) -> Iterator[Condition]:
    """Every node of a condition tree, ``node`` first, depth first, in the order written."""
    stack: list[Condition] = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(child for child, _ in reversed(children(current)))


def condition_paths(rule: Rule) -> Iterator[FieldPath]:
    """Every field path the rule's ``where`` and ``condition`` read."""
    for root in (rule.where, rule.condition):
        if root is not None:
            for node in walk(root):
                if isinstance(node, Compare | Count):
                    yield node.path
