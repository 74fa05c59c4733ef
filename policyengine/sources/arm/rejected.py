"""Resources ARM would reject, inside a template that is otherwise valid.

Errors belong to the smallest unit that has them (docs/architecture.md, "Input errors"): a
resource with a bad name, an expression that does not parse or evaluate, a type without a
provider namespace or a broken copy loop is an input error of that resource only. It is not
judged; the template's other resources are, and whatever depends on it is unknown, never a
guess:

* a value elsewhere in the template that names it (its id, or an id below it) becomes an
  :class:`~policyengine.unknown.Unknown` that says why (:func:`unknown_dependents`);
* a child it would have set on a parent makes that child unknown on the parent, which is
  still judged (:mod:`policyengine.sources.arm.records` does that from :attr:`Rejected.reach`).

What ARM itself does is still said plainly: every message starts "ARM rejects this template".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from policyengine.errors import Span
from policyengine.records.model import declared_id
from policyengine.sources.arm.expressions import TemplateError, TemplateLimitError
from policyengine.sources.arm.scope import OMITTED, TemplateScope
from policyengine.status import InputProblem, Unit
from policyengine.unknown import Unknown, quote, segment_text, string_parts

if TYPE_CHECKING:
    from policyengine.sources.arm.expand import Expanded

REJECTS = "ARM rejects this template"
DEPLOYMENTS = "microsoft.resources/deployments"
#: Far deeper than any real template; what a hostile one nests beyond it cannot be told.
_MAX_NESTING = 64


@dataclass(frozen=True)
class Rejected:
    """One resource instance ARM would reject, and what could be told of it before the error."""

    address: str                     # the instance: resources[4][0]
    declaration: str                 # the resource as written (its copies share it): resources[4]
    reason: str
    span: Span
    node: Any                        # the resource as written (positions), if it is an object
    type: str | None = None          # its full type, where it could be told
    names: tuple[str | Unknown, ...] | None = None  # its name segments, where they could be told
    parent: Expanded | None = None   # the resource it is nested in
    subscription: str | Unknown = ""
    group: str | Unknown | None = None
    #: The types (lower case) it may declare outside itself: its own, and nested resources that
    #: are not its own children (a child written with its full type, a nested deployment's
    #: resources). None: one of them cannot be told (a type that is an expression).
    reach: frozenset[str] | None = None

    @property
    def id(self) -> str | None:
        """Its ARM id, where its type and name could be told."""
        if self.type is None or self.names is None:
            return None
        try:
            return declared_id(self.subscription, self.group, self.type, self.names)
        except ValueError:
            return None

    def why(self) -> str:
        """It, as the reason of what depends on it reads: ``set by <why>``, ``names <why>``."""
        return f"{self.address}, which ARM rejects (see the input error at {self.span.prefix()})"


def reach(raw: Any, own: str | None) -> frozenset[str] | None:
    """The types a resource as written may declare outside itself (see :attr:`Rejected.reach`);
    ``own`` is its full type where it was evaluated."""
    found: set[str] = set()
    if own is None:
        return None
    found.add(own.lower())
    return frozenset(found) if _nested(raw, own, found, 0) else None


def _nested(raw: Any, own: str, found: set[str], depth: int) -> bool:
    """Add to ``found`` what ``raw`` (of type ``own``) nests; False if some type is unknown."""
    if depth > _MAX_NESTING or not isinstance(raw, Mapping):
        return depth <= _MAX_NESTING
    children = raw.get("resources")
    for child in children if isinstance(children, list) else []:
        rtype = child.get("type") if isinstance(child, Mapping) else None
        if not isinstance(rtype, str) or rtype.startswith("["):
            return False
        if "/" in rtype:  # written in full: its name says which parent, maybe another one
            found.add(rtype.lower())
        if not _nested(child, rtype if "/" in rtype else f"{own}/{rtype}", found, depth + 1):
            return False
    props = raw.get("properties")
    template = props.get("template") if own.lower() == DEPLOYMENTS and isinstance(props, Mapping) else None
    if isinstance(template, Mapping):
        resources = template.get("resources")
        items = resources.values() if isinstance(resources, Mapping) else resources
        for res in items if isinstance(items, Iterable) and not isinstance(items, str) else []:
            rtype = res.get("type") if isinstance(res, Mapping) else None
            if not isinstance(rtype, str) or rtype.startswith("[") or "/" not in rtype:
                return False
            found.add(rtype.lower())
            if not _nested(res, rtype, found, depth + 1):
                return False
    return True


def problems(rejected: Sequence[Rejected]) -> list[InputProblem]:
    """One input error per resource as written: its first rejected instance, and how many of
    its copies fail too."""
    out: list[InputProblem] = []
    by_declaration: dict[str, list[Rejected]] = {}
    for rej in rejected:
        by_declaration.setdefault(rej.declaration, []).append(rej)
    for group in by_declaration.values():
        first = group[0]
        what = first.address
        if len(group) > 1:
            what += f" (and {len(group) - 1} more of its copies)"
        node = first.node if isinstance(first.node, Mapping) else {}
        props = node.get("properties")
        if isinstance(node.get("resources"), list) and node["resources"]:
            what += " with the resources nested in it"
        elif isinstance(props, Mapping) and isinstance(props.get("template"), Mapping):
            what += " with the resources of its nested template"
        out.append(InputProblem(first.span, f"{REJECTS}: {first.reason}; not judged: {what}; the rest of the "
                                "template is judged", Unit.RESOURCE, first.address))
    return out


def unknown_dependents(resources: Sequence[Expanded], rejected: Sequence[Rejected]) -> list[Expanded]:
    """``resources`` with every value that names a rejected resource (its id, or an id below
    it) made unknown: what such a value would point at is not deployed."""
    ids = {rid.lower(): rej for rej in rejected if (rid := rej.id) is not None}
    if not ids:
        return list(resources)
    return [replace(res, body=_replace(res.body, ids, 0)) for res in resources]


def _replace(value: Any, ids: Mapping[str, Rejected], depth: int) -> Any:
    if depth > _MAX_NESTING:
        return value
    if isinstance(value, dict):
        return {k: _replace(v, ids, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, ids, depth + 1) for v in value]
    if isinstance(value, str | Unknown):
        text = "".join(segment_text(p) for p in string_parts(value)).lower()
        for rid, rej in ids.items():
            if text == rid or text.startswith(rid + "/"):
                return Unknown(quote(value) if isinstance(value, str) else value.text, f"names {rej.why()}")
    return value


# -- errors of the template as a whole, and of its outputs


def whole_template(exc: TemplateError, file: str) -> TemplateError:
    """An error that takes out the whole template (its sections, a parameter's value, a
    limit), saying so."""
    span = exc.span or Span(file)
    if isinstance(exc, TemplateLimitError):
        return TemplateLimitError(f"{exc.message} (a limit of this scanner: none of the template's resources "
                                  "is judged)", span)
    return TemplateError(f"{REJECTS}: {exc.message} (an error of the whole template: none of its resources "
                         "is judged)", span)


def outputs(scope: TemplateScope) -> tuple[dict[str, Any], list[InputProblem]]:
    """The template's outputs, and an input error for each that ARM would reject: no rule
    reads outputs (and ARM evaluates them once the resources are deployed), so it takes out
    that output only."""
    values: dict[str, Any] = {}
    failed: list[InputProblem] = []
    try:
        names = scope.output_names()
    except TemplateError as exc:
        return values, [_output_problem(exc, "outputs", scope.file)]
    for name in names:
        try:
            value = scope.output(name)
        except TemplateLimitError as exc:
            raise whole_template(exc, scope.file) from None
        except TemplateError as exc:
            failed.append(_output_problem(exc, f"outputs.{name}", scope.file))
            continue
        if value is not OMITTED:
            values[name] = value
    return values, failed


def _output_problem(exc: TemplateError, where: str, file: str) -> InputProblem:
    return InputProblem(exc.span or Span(file), f"{REJECTS}: {exc.message}; not judged: {where} (outputs are "
                        "never judged; the template's resources are)", Unit.RESOURCE, where)
