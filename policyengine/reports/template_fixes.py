"""The change that fixes a template's or plan's failing finding, derived from the rule.

A deployed resource is fixed with a command (:mod:`policyengine.reports.fixes`); a declared
one, by editing the file that declares it. The edit is read off the rule's condition: a
failing comparison ``equals V`` (or ``in [V, ...]``, whose first value is taken) on a path
says "set PATH to V". Where the comparison sits decides where the edit goes:

- the template writes the wrong value at a known place (the evidence's ``site``,
  ``file:line:col``): change it there (:attr:`Action.SET`);
- the resource lacks the property: add it to the resource, at the resource's own line
  (:attr:`Action.ADD`);
- the property belongs to a child resource (``related.X...``, a server parameter) that the
  template does not declare: declare the child, with its type, the catalog's apiVersion, its
  name and the property (:attr:`Action.DECLARE`).

Only a comparison reached from the condition's root through ``allOf`` gives one value to
set; a failure under ``anyOf``, ``not`` or ``count``, or of another operator (``greater``),
gives none, and then nothing is said: a fix that might not fix is a guess. For a Terraform
plan the attribute is named in the azurerm provider's terms where
:mod:`policyengine.sources.terraform.mapping` knows it (:mod:`.plan_fixes`), else by its
ARM path.

A change at a site whose text is the wrong value written as a JSON literal can be applied
exactly: :func:`exact` gives the region to replace and the new text (SARIF's ``fixes``).
"""

from __future__ import annotations

import enum
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policyengine import ir
from policyengine.findings import Evidence, Finding, Verdict
from policyengine.paths import FieldPath
from policyengine.reports.common import parse_site

#: How the evaluator notes related data that a template or plan does not declare, whose
#: platform default it judged instead (evaluator/evaluate.py, ``resolve_related``; a test
#: holds the two together): the child must be declared, not edited.
DEFAULT_ASSUMED = "is not declared; the platform default was assumed"


class Action(enum.StrEnum):
    SET = "set"          # change the value written at file:line:col
    ADD = "add"          # add the property (or attribute) to the resource declared at file:line
    DECLARE = "declare"  # declare the child resource next to the resource at file:line
    REMOVE = "remove"    # delete the resource declared at file:line (one the rule wants none of)


@dataclass(frozen=True)
class Change:
    """One edit of a template or plan: what to write, and where."""

    action: Action
    file: str
    line: int     # 0: not known (a plan has no lines)
    column: int
    #: The property set, as the file writes it: an ARM path (relative to the resource or the
    #: child), or a plan's provider attribute.
    path: str
    value: Any = field(hash=False)  # a list or an object is a value too
    #: One sentence saying what to do, without the place.
    text: str
    #: What to write: JSON for a template, HCL for a plan.
    snippet: str
    language: str = "json"
    #: The wrong value, for a SET at a site (what :func:`exact` looks for there).
    was: Any = field(default=None, hash=False)

    @property
    def where(self) -> str:
        """``file:line:col``, or the file alone where no line is known."""
        if self.line and self.column:
            return f"{self.file}:{self.line}:{self.column}"
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action.value, "file": self.file, "path": self.path,
                               "value": self.value, "text": self.text, "snippet": self.snippet,
                               "language": self.language}
        if self.line:
            out["line"] = self.line
        if self.column:
            out["column"] = self.column
        return out


@dataclass(frozen=True)
class Target:
    """A comparison that names the one value to set."""

    path: FieldPath
    value: Any
    related: ir.Related | None
    #: For ``in``: the other values the rule accepts, said beside the one set.
    others: tuple[Any, ...] = ()


def template_fix(finding: Finding) -> tuple[Change, ...]:
    """The edits that fix a failing declared finding; none when the rule gives no single
    value for every failing comparison (or the finding is not a declared failure)."""
    if finding.verdict is not Verdict.FAIL or finding.origin.kind is not ir.SourceKind.DECLARED:
        return ()
    failing = [e for e in finding.evidence if e.outcome is Verdict.FAIL]
    removals = _removals(finding, failing)
    if removals:
        return removals
    targets = _targets(finding.rule)
    if not failing or any(e.path not in targets for e in failing):
        return ()
    from policyengine.reports.plan_fixes import is_plan, plan_change

    changes: list[Change] = []
    for evidence in failing:
        target = targets[evidence.path]
        change = (plan_change(finding, evidence, target) if is_plan(finding)
                  else _template_change(finding, evidence, target))
        if change is None:
            return ()
        if change not in changes:
            changes.append(change)
    return tuple(changes)


def _removals(finding: Finding, failing: list[Evidence]) -> tuple[Change, ...]:
    """For a rule that wants none of a related type to match (no firewall rule open to every
    Azure service): remove the one that matched, where the template declares it. Only when
    every failing comparison is such a count and says where."""
    changes: list[Change] = []
    for evidence in failing:
        count = _none_wanted(finding.rule, evidence.path)
        site = parse_site(evidence.site) if evidence.site else None
        if count is None or not evidence.matched or site is None:
            return ()
        rel = finding.rule.related_named(count.path.related_name)
        assert rel is not None, "the loader checks related names"
        names = ", ".join(f"'{n}'" for n in evidence.matched)
        kind = rel.type.rsplit("/", 1)[-1]
        changes.append(Change(Action.REMOVE, site[0], site[1], site[2], "", None,
                              f"remove the {kind} {names} (declared here), which the rule wants none of",
                              ""))
    return tuple(changes)


def _none_wanted(rule: ir.Rule, path: str) -> ir.Count | None:
    """The count on ``path`` that wants no related resource to match, if the condition (through
    ``allOf`` only) is one."""
    node = rule.condition
    pending: list[ir.Condition] = [node]
    while pending:
        node = pending.pop()
        if isinstance(node, ir.AllOf):
            pending += node.items
        elif isinstance(node, ir.Count) and node.path.is_related and node.path.text == path \
                and node.wants_none:
            return node
    return None


def fix_lines(changes: tuple[Change, ...]) -> list[str]:
    """The changes as lines for a person: where and what, then the snippet."""
    lines: list[str] = []
    for change in changes:
        lines.append(f"{change.where}: {change.text}")
        lines += change.snippet.splitlines()
    return lines


# -- the rule's side: which comparisons name one value ------------------------------------------

_TARGETS: dict[str, tuple[ir.Rule, dict[str, Target]]] = {}


def _targets(rule: ir.Rule) -> dict[str, Target]:
    """The rule's comparisons that give one value to set, by path text (computed once per
    rule: a template scan asks for every failing finding)."""
    kept = _TARGETS.get(rule.id)
    if kept is not None and kept[0] is rule:
        return kept[1]
    fixable: dict[str, Target] = {}
    elsewhere: set[str] = set()
    _collect(rule, rule.condition, True, fixable, elsewhere)
    found = {text: target for text, target in fixable.items() if text not in elsewhere}
    if len(_TARGETS) > 256:
        _TARGETS.clear()
    _TARGETS[rule.id] = (rule, found)
    return found


def _collect(rule: ir.Rule, node: ir.Condition, conjunct: bool, fixable: dict[str, Target],
             elsewhere: set[str]) -> None:
    """Walk the condition: a comparison reached through ``allOf`` alone is fixable if its
    operator names one value; every other path read is noted, so that a path read in two
    places (one fixable, one not) gives no fix."""
    if isinstance(node, ir.Compare):
        value = _one_value(node)
        path = node.path
        related = rule.related_named(path.related_name) if path.is_related else None
        usable = (conjunct and value is not _NONE and not path.element
                  and all(isinstance(s, str) for s in path.segments)
                  and (related is None or not related.is_list))
        if usable and path.text not in fixable:
            others = tuple(node.value[1:]) if node.op == "in" else ()
            fixable[path.text] = Target(path, value, related, others)
        else:
            elsewhere.add(path.text)
        return
    if isinstance(node, ir.Count):
        elsewhere.add(node.path.text)
    for child, _ in ir.children(node):
        _collect(rule, child, conjunct and isinstance(node, ir.AllOf), fixable, elsewhere)


_NONE = object()


def _one_value(node: ir.Compare) -> Any:
    if node.op == "equals":
        return node.value
    if node.op == "in" and isinstance(node.value, (list, tuple)) and node.value:
        return node.value[0]
    return _NONE


# -- the template's side: where the edit goes -----------------------------------------------------

def _template_change(finding: Finding, evidence: Evidence, target: Target) -> Change | None:
    origin = finding.origin
    related = target.related
    segments = tuple(str(s) for s in (target.path.segments[2:] if related else target.path.segments))
    shown = ".".join(segments)
    value_text = _json(target.value) + alternatives(target)
    site = parse_site(evidence.site) if evidence.site else None
    owner = f" of {related.shown}" if related is not None else ""
    if evidence.present and site is not None:
        file, line, column = site
        return Change(Action.SET, file, line, column, shown, target.value,
                      f"set {shown}{owner} to {value_text}", f"{_json(segments[-1])}: {_json(target.value)}",
                      was=evidence.actual)
    if related is not None and related.scope is not ir.Scope.CHILD:
        return None  # a subscription's resource the template does not declare: not this file's
    if related is None:
        if evidence.present:
            return None  # written somewhere this input does not locate: nothing exact to say
        return Change(Action.ADD, origin.file, origin.line, origin.column, shown, target.value,
                      f"add {shown} = {value_text} to the resource declared here",
                      _json(nest(segments, target.value)))
    declared = evidence.present and DEFAULT_ASSUMED not in (evidence.note or "")
    if declared:
        return None  # declared, yet its value has no known place: nothing exact to say
    text = f"declare {related.shown} with {shown} = {value_text}, next to the resource declared here"
    if not evidence.present:  # the child, or only its property, is missing: the input cannot say which
        text += f" (or, if the template declares it, set {shown} in it)"
    return Change(Action.DECLARE, origin.file, origin.line, origin.column, shown, target.value, text,
                  _child_resource(finding, related, segments, target.value))


def _child_resource(finding: Finding, related: ir.Related, segments: tuple[str, ...], value: Any) -> str:
    """A child resource as an ARM template declares it at the top level (JSON), named after
    its parent: by the parent's name, or by the expression that gives it in the template."""
    name, argument = _parent_name(finding, related.resource_name)
    head, middle, tail = _child_skeleton(finding.resource_type, related.type, _json(nest(segments, value)))
    depends = f"[resourceId('{finding.resource_type}', {argument})]"
    return head + _json(name) + middle + _json(depends) + tail


@functools.lru_cache(maxsize=64)
def _child_skeleton(parent_type: str, child_type: str, properties: str) -> tuple[str, str, str]:
    """The JSON of a child resource cut where its name and its parent's id go: the same for
    every server of a template, so it is laid out once (a large template has thousands)."""
    from policyengine.catalog import catalog

    known = catalog().get(child_type)
    resource: dict[str, Any] = {"type": child_type}
    if known is not None and known.arm is not None:
        resource["apiVersion"] = known.arm.api_version
    resource["name"] = _NAME_SLOT
    resource["dependsOn"] = [_DEPENDS_SLOT]
    resource.update(json.loads(properties))
    text = json.dumps(resource, indent=2, ensure_ascii=False)
    head, rest = text.split(_json(_NAME_SLOT), 1)
    middle, tail = rest.split(_json(_DEPENDS_SLOT), 1)
    return head, middle, tail


_NAME_SLOT = "\x00name\x00"
_DEPENDS_SLOT = "\x00dependsOn\x00"


def _parent_name(finding: Finding, child: str) -> tuple[str, str]:
    """The child's ``name`` and the parent's name as a ``resourceId`` argument. A template's
    resource id holds the parent's name, or the expression that gives it (``[parameters('x')]``)
    where that is known only at deployment: the child is then named by the same expression.
    Anything else (a name partly built, an id that names no such type) is ``<server>``."""
    marker = f"/providers/{finding.resource_type}/".lower()
    at = finding.resource_id.lower().rfind(marker)
    name = finding.resource_id[at + len(marker):] if at >= 0 else ""
    quoted = child.replace("'", "''")
    if name and not any(c in name for c in "[]/{}<>'"):
        return f"{name}/{child}", f"'{name}'"
    if name.startswith("[") and name.endswith("]") and _one_expression(name):
        inner = name[1:-1]
        return f"[format('{{0}}/{quoted}', {inner})]", inner
    return f"<server>/{child}", "'<server>'"


def _one_expression(text: str) -> bool:
    """Whether ``[...]`` is a single template expression: its brackets balance only at the
    end (string literals, where a bracket means nothing, are skipped)."""
    depth, quoted = 0, False
    for at, char in enumerate(text):
        if char == "'":
            quoted = not quoted  # '' inside a literal toggles twice: no harm
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
            if depth == 0 and at != len(text) - 1:
                return False
    return depth == 0 and not quoted


def alternatives(target: Target) -> str:
    """`` (or one of "15", "16")`` for an ``in`` comparison: the value set is the first the
    rule lists, not the only one it accepts."""
    if not target.others:
        return ""
    if len(target.others) == 1:
        return f" (or {_json(target.others[0])})"
    return f" (or one of {', '.join(_json(v) for v in target.others)})"


def nest(segments: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``("properties", "value"), "on"`` -> ``{"properties": {"value": "on"}}``."""
    out: Any = value
    for segment in reversed(segments):
        out = {segment: out}
    nested: dict[str, Any] = out
    return nested


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- an exact replacement -------------------------------------------------------------------------

@dataclass(frozen=True)
class Replacement:
    """A region of a file (1-based lines and columns, the end column exclusive, as in SARIF
    §3.30) and the text that replaces it."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    text: str


def exact(change: Change) -> Replacement | None:
    """The replacement that applies ``change`` exactly: for a SET whose site holds the
    wrong value written as a JSON literal (not an expression that builds it), that literal
    and the new value's; None otherwise."""
    if change.action is not Action.SET or change.language != "json" or not change.line or not change.column:
        return None
    lines = _lines(change.file)
    if lines is None or change.line > len(lines):
        return None
    text = "".join(lines[change.line - 1:])
    start = change.column - 1
    try:
        found, end = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    if type(found) is not type(change.was) or found != change.was:
        return None  # an expression, a parameter, or text that moved since the scan
    written = text[start:end]
    end_line = change.line + written.count("\n")
    end_column = (end - text.rfind("\n", 0, end)) if "\n" in written else change.column + len(written)
    return Replacement(change.line, change.column, end_line, end_column, _json(change.value))


_DECODER = json.JSONDecoder()


@functools.lru_cache(maxsize=32)
def _lines(file: str) -> tuple[str, ...] | None:
    """A file's lines (ends kept), read once per report; None if it cannot be read."""
    try:
        return tuple(Path(file).read_text(encoding="utf-8").splitlines(keepends=True))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
