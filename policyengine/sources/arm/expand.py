"""A deployment template's resources as they would be deployed: every copy loop unrolled,
every ``condition: false`` left out, nested child resources given their full type and name,
inline nested deployments walked in the scope they declare, and every value evaluated.

What ARM decides only at deployment stays an :class:`~policyengine.unknown.Unknown`.
References:
https://learn.microsoft.com/azure/azure-resource-manager/templates/child-resource-name-type
https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-resources
https://learn.microsoft.com/azure/azure-resource-manager/templates/linked-templates#expression-evaluation-scope-in-nested-templates
https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax#languageversion-20
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from policyengine.errors import Span
from policyengine.records.model import declared_id
from policyengine.sources.arm.expressions import TemplateLimitError
from policyengine.sources.arm.rejected import (
    DEPLOYMENTS,
    Rejected,
    outputs,
    problems,
    reach,
    unknown_dependents,
    whole_template,
)
from policyengine.sources.arm.scope import Deployment, TemplateError, TemplateScope
from policyengine.sources.jsonpos import span_at, span_of
from policyengine.status import InputProblem
from policyengine.unknown import Unknown, split_name

#: ARM's own limit on a copy loop (https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-resources#copy-limits).
MAX_COPY = 800
#: Bounds on what a hostile template can make us build.
MAX_RESOURCES = 20_000
MAX_DEPTH = 16
#: Keys of a resource that describe how to deploy it rather than what it is.
_CONTROL = frozenset({"copy", "condition", "dependson", "resources", "comments", "existing", "name",
                      "type", "metadata"})
_SUBSCRIPTION_SCOPE = ("subscriptiondeploymenttemplate", "managementgroupdeploymenttemplate",
                       "tenantdeploymenttemplate")

Loops = tuple[tuple[str, int | Unknown], ...]


@dataclass(frozen=True)
class Expanded:
    """One resource instance after expansion."""

    type: str
    names: tuple[str | Unknown, ...]
    name: Any                        # the evaluated name as written (a string or an Unknown)
    body: dict[str, Any]             # the evaluated resource: properties, location, tags, sku...
    node: Any                        # the resource as written in the file (positions)
    address: str                     # where it is in the template: resources[2][copy 1]
    span: Span | None
    subscription: str | Unknown
    group: str | Unknown | None
    existing: bool = False           # referenced, not deployed (languageVersion 2.0)
    condition: Unknown | None = None  # deployed only if this holds: known only at deployment

    @property
    def id(self) -> str:
        return declared_id(self.subscription, self.group, self.type, self.names)


@dataclass
class Expansion:
    """A template after expansion: its resources, its outputs, and what a user should know.

    A resource ARM would reject is in ``rejected`` instead of ``resources``, and an input
    error of its own in ``problems`` (so is an output that cannot be evaluated); the rest of
    the template is judged (docs/architecture.md, "Input errors")."""

    file: str
    resources: list[Expanded] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def is_template(doc: Any) -> bool:
    """A deployment template: by its ``$schema``, or by its shape where it has none."""
    if not isinstance(doc, dict):
        return False
    schema = doc.get("$schema")
    if isinstance(schema, str):
        return "deploymenttemplate.json" in schema.lower()
    return "resources" in doc and "contentVersion" in doc


def expand(template: Mapping[str, Any], file: str, values: Mapping[str, Any],
           deployment: Deployment | None = None) -> Expansion:
    """Expand ``template`` with the parameter ``values`` given by the user.

    Raises :class:`TemplateError` for an error of the whole template (its sections, a
    parameter value its declaration refuses, a limit); an error of one resource or output
    is in :attr:`Expansion.problems` instead."""
    deployment = deployment or Deployment()
    try:
        scope = TemplateScope(template, values, deployment, file)
        scope.check_parameters()
    except TemplateError as exc:
        raise whole_template(exc, file) from None
    out = Expansion(file)
    schema = str(template.get("$schema", "")).lower()
    group: str | Unknown | None = None
    if not any(s in schema for s in _SUBSCRIPTION_SCOPE):
        group = _context_group(deployment)
    walker = _Walker(out, file)
    try:
        walker.template(_Frame(scope, _Target(_context_subscription(deployment), group), (), 0), template, "")
    except TemplateError as exc:  # the 'resources' section itself, or a limit
        raise whole_template(exc, file) from None
    out.resources = unknown_dependents(out.resources, out.rejected)
    out.outputs, failed = outputs(scope)
    out.problems = problems(out.rejected) + failed
    out.notes[:0] = scope.notes
    return out


@dataclass(frozen=True)
class _Target:
    """Where a template's resources go: the deployment's subscription and resource group."""

    subscription: str | Unknown
    group: str | Unknown | None


@dataclass(frozen=True)
class _Frame:
    """What a resource is evaluated in: the scope, its target, the enclosing copy loops and
    how deep in nested deployments it is."""

    scope: TemplateScope
    target: _Target
    loops: Loops
    depth: int


def _context_subscription(deployment: Deployment) -> str | Unknown:
    return deployment.subscription_id or Unknown(
        "subscription().subscriptionId", "the subscription is chosen at deployment")


def _context_group(deployment: Deployment) -> str | Unknown:
    return deployment.resource_group or Unknown(
        "resourceGroup().name", "the resource group is chosen at deployment")


@dataclass
class _Partial:
    """What is known of a resource instance while it is expanded: enough, if it fails, to
    tell what depends on it."""

    address: str
    declaration: str
    node: Any
    parent: Expanded | None
    target: _Target
    type: str | None = None
    names: tuple[str | Unknown, ...] | None = None


class _Walker:
    def __init__(self, out: Expansion, file: str) -> None:
        self.out = out
        self.file = file

    def fail(self, message: str, node: Any, key: str | int | None = None) -> TemplateError:
        span = span_at(node, key) if key is not None else span_of(node)
        return TemplateError(message, span or Span(self.file))

    def template(self, frame: _Frame, template: Mapping[str, Any], prefix: str) -> None:
        resources = template.get("resources", [])
        if isinstance(resources, Mapping):  # languageVersion 2.0: keyed by symbolic name
            items: Iterator[tuple[str | int, Any]] = iter(resources.items())
        elif isinstance(resources, list):
            items = iter(enumerate(resources))
        else:
            raise self.fail("'resources' must be an array (or, with languageVersion 2.0, an object)",
                            template, "resources")
        for key, raw in items:
            address = f"{prefix}resources[{key}]" if isinstance(key, int) else f"{prefix}{key}"
            self.resource(frame, (resources, key), raw, None, address)

    def resource(self, frame: _Frame, where: tuple[Any, str | int], raw: Any, parent: Expanded | None,
                 address: str) -> None:
        """A resource as written: each of its copies, each of them judged or rejected alone."""
        try:
            if not isinstance(raw, Mapping):
                raise self.fail("a resource must be a JSON object", *where)
            for field_ in ("type", "name"):
                if field_ not in raw:
                    raise self.fail(f"the resource has no '{field_}'", *where)
            iterations = list(self._iterations(frame.scope, raw, frame.loops, address))
        except TemplateLimitError:
            raise
        except TemplateError as exc:
            partial = _Partial(address, address, raw, parent, frame.target)
            partial.type = _literal_type(raw, parent)
            self.reject(exc, partial)
            return
        for iteration, at in iterations:
            self.instance(replace(frame, loops=iteration), raw, parent, at, address)

    def reject(self, exc: TemplateError, partial: _Partial) -> None:
        """``partial`` is an input error of its own; the rest of the template goes on."""
        node = partial.node if isinstance(partial.node, Mapping) else None
        span = exc.span or span_of(node) or Span(self.file)
        self.out.rejected.append(Rejected(
            partial.address, partial.declaration, exc.message, span, node, partial.type, partial.names,
            partial.parent, partial.target.subscription, partial.target.group, reach(node, partial.type)))

    def _iterations(self, scope: TemplateScope, raw: Mapping[str, Any], loops: Loops,
                    address: str) -> Iterator[tuple[Loops, str]]:
        copy = raw.get("copy")
        if copy is None:
            yield loops, address
            return
        if not isinstance(copy, Mapping) or not isinstance(copy.get("name"), str) or "count" not in copy:
            raise self.fail("'copy' needs a 'name' and a 'count'", raw, "copy")
        count = scope.evaluate(copy["count"], loops, container=copy, key="count")
        if isinstance(count, Unknown):
            # One instance stands for them all; whatever depends on its index is unknown.
            self.out.notes.append(f"{self._where(copy)}: {address}: the copy count {count.text} is "
                                  f"known only at deployment ({count.reason}); one instance, [*], stands "
                                  "for every copy")
            symbolic = Unknown(f"copyIndex('{copy['name']}')", count.reason)
            yield (*loops, (copy["name"], symbolic)), f"{address}[*]"
            return
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COPY:
            raise self.fail(f"the copy count must be an integer from 0 to {MAX_COPY} "
                            f"(ARM's limit), got {count!r}", copy, "count")
        for index in range(count):
            yield (*loops, (copy["name"], index)), f"{address}[{index}]"

    def instance(self, frame: _Frame, raw: Mapping[str, Any], parent: Expanded | None, address: str,
                 declaration: str) -> None:
        """One instance: expanded, or rejected alone; then what it nests."""
        partial = _Partial(address, declaration, raw, parent, frame.target)
        try:
            here = self._instance(frame, raw, parent, partial)
            if here is None:
                return
            self.out.resources.append(here)
            if here.type.lower() == DEPLOYMENTS and not here.existing:
                self.deployment(frame, raw, here.body, address)
                return
        except TemplateLimitError:
            raise
        except TemplateError as exc:
            self.reject(exc, partial)
            return
        children = raw.get("resources")
        for i, child in enumerate(children if isinstance(children, list) else []):
            self.resource(frame, (children, i), child, here, f"{address}.resources[{i}]")

    def _instance(self, frame: _Frame, raw: Mapping[str, Any], parent: Expanded | None,
                  partial: _Partial) -> Expanded | None:
        scope, target, loops, address = frame.scope, frame.target, frame.loops, partial.address
        condition: Unknown | None = None
        if "condition" in raw:
            holds = scope.evaluate(raw["condition"], loops, container=raw, key="condition")
            if holds is False:
                self.out.notes.append(f"{self._where(raw)}: {address} left out: its condition is false")
                return None
            if isinstance(holds, Unknown):
                condition = holds
                self.out.notes.append(f"{self._where(raw)}: {address} is judged as if deployed: its "
                                      f"condition {holds.text} is known only at deployment ({holds.reason})")
            elif holds is not True:
                raise self.fail(f"the condition must be true or false, got {holds!r}", raw, "condition")
        rtype = scope.evaluate(raw["type"], loops, container=raw, key="type")
        if not isinstance(rtype, str):
            raise self.fail("the resource type must be known before deployment", raw, "type")
        partial.type = full_type = self._full_type(raw, rtype, parent)
        name = scope.evaluate(raw["name"], loops, container=raw, key="name")
        partial.names = names = self._names(raw, rtype, full_type, name, parent)
        if raw.get("resources") is not None and not isinstance(raw["resources"], list):
            raise self.fail("a resource's 'resources' must be an array", raw, "resources")
        if len(self.out.resources) >= MAX_RESOURCES:
            raise TemplateLimitError(f"the template expands to more than {MAX_RESOURCES} resources",
                                     span_of(raw) or Span(self.file))
        deployment = full_type.lower() == DEPLOYMENTS
        body = {k: self._evaluate(scope, raw, k, loops, deployment) for k in raw if k.lower() not in _CONTROL}
        return Expanded(full_type, names, name, body, raw, address, span_of(raw),
                        target.subscription, target.group, raw.get("existing") is True, condition)

    @staticmethod
    def _evaluate(scope: TemplateScope, raw: Mapping[str, Any], key: str, loops: Loops,
                  deployment: bool) -> Any:
        value = raw[key]
        if deployment and key.lower() == "properties" and isinstance(value, Mapping) and "template" in value:
            # A nested template is evaluated in the scope it asks for (see deployment()), not here.
            evaluated = scope.evaluate({k: v for k, v in value.items() if k != "template"}, loops,
                                       container=raw, key=key)
            return {**evaluated, "template": {"$nested": "expanded into the resources that follow"}}
        return scope.evaluate(value, loops, container=raw, key=key)

    def _full_type(self, raw: Mapping[str, Any], rtype: str, parent: Expanded | None) -> str:
        if parent is not None and "/" not in rtype and rtype.strip():
            # A nested child names only its own type: its full type starts with its parent's.
            return f"{parent.type}/{rtype}"
        if not _is_type(rtype):
            raise self.fail(f"the resource type {rtype!r} is not 'Namespace/type' (a resource outside "
                            "another one needs its provider namespace, such as "
                            "Microsoft.DBforPostgreSQL/servers)", raw, "type")
        return rtype

    def _names(self, raw: Mapping[str, Any], rtype: str, full_type: str, name: Any,
               parent: Expanded | None) -> tuple[str | Unknown, ...]:
        segments = split_name(name)
        if segments is None or not all(segments):
            raise self.fail(f"the resource name must be a string, got {name!r}", raw, "name")
        if parent is not None and "/" not in rtype:
            # A nested child names only itself: its full name starts with its parent's.
            if len(segments) != 1:
                raise self.fail(f"a nested child resource's name has one segment, got {name!r}", raw, "name")
            return (*parent.names, *segments)
        if len(full_type.split("/")) - 1 != len(segments):
            needs = len(full_type.split("/")) - 1
            raise self.fail(f"the name {_shown(name)} has {len(segments)} segment(s); type {full_type} needs "
                            f"{needs} (a child's name is 'parent/child')", raw, "name")
        return tuple(segments)

    def deployment(self, frame: _Frame, raw: Mapping[str, Any], body: Mapping[str, Any],
                   address: str) -> None:
        """An inline nested deployment: walk its template in the scope it asks for."""
        scope, target, depth = frame.scope, frame.target, frame.depth
        props = raw.get("properties")
        inner = props.get("template") if isinstance(props, Mapping) else None
        if inner is None:
            link = props.get("templateLink") if isinstance(props, Mapping) else None
            what = "a linked template" if link is not None else "no inline template"
            self.out.notes.append(f"{self._where(raw)}: {address} deploys {what}: "
                                  "its resources are not scanned")
            return
        if depth >= MAX_DEPTH:
            raise self.fail(f"nested deployments deeper than {MAX_DEPTH}", props, "template")
        if not isinstance(inner, Mapping):
            raise self.fail("'template' must be a JSON object", props, "template")
        target = replace(target,
                         subscription=_known_or(body.get("subscriptionId"), target.subscription),
                         group=_known_or(body.get("resourceGroup"), target.group))
        options = props.get("expressionEvaluationOptions") if isinstance(props, Mapping) else None
        evaluation = options.get("scope", "outer") if isinstance(options, Mapping) else "outer"
        if str(evaluation).lower() != "inner":
            # Outer scope (the default): the nested template's expressions see the parent's
            # parameters and variables, and the parent's copy loops.
            self.template(replace(frame, target=target, depth=depth + 1), inner,
                          f"{address}.properties.template.")
            return
        evaluated = body.get("properties", {}).get("parameters", {})
        values = {k: (v.get("value") if "value" in v else v) for k, v in evaluated.items()
                  if isinstance(v, Mapping)} if isinstance(evaluated, Mapping) else {}
        nested = TemplateScope(inner, values, _nested_deployment(scope, target), self.file, outer=scope)
        # The nested deployment's parameters are checked as ARM checks them when it starts
        # it: a value its template refuses rejects this deployment (and what it holds) only.
        nested.check_parameters()
        self.template(_Frame(nested, target, (), depth + 1), inner, f"{address}.properties.template.")
        self.out.notes.extend(n for n in nested.notes if n not in self.out.notes)

    def _where(self, node: Any) -> str:
        return (span_of(node) or Span(self.file)).prefix()


def _nested_deployment(scope: TemplateScope, target: _Target) -> Deployment:
    base = scope.deployment
    return replace(base,
                   subscription_id=target.subscription if isinstance(target.subscription, str) else None,
                   resource_group=target.group if isinstance(target.group, str) else None)


def _is_type(text: str) -> bool:
    """``Namespace/type[/childType...]``, no segment empty."""
    segments = text.split("/")
    return len(segments) >= 2 and all(seg.strip() for seg in segments)


def _literal_type(raw: Any, parent: Expanded | None) -> str | None:
    """A resource's full type as written, where it is a literal: what a resource rejected
    before its type was evaluated (a bad copy loop) still says about what it declares."""
    rtype = raw.get("type") if isinstance(raw, Mapping) else None
    if not isinstance(rtype, str) or rtype.startswith("["):
        return None
    if parent is not None and "/" not in rtype and rtype.strip():
        return f"{parent.type}/{rtype}"
    return rtype if _is_type(rtype) else None


def _known_or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _shown(name: Any) -> str:
    return f"[{name.text}]" if isinstance(name, Unknown) else repr(name)


def names_key(names: Sequence[str | Unknown]) -> tuple[str, ...]:
    """A resource name as a dictionary key: known segments case-folded, unknown ones by text."""
    return tuple(n.lower() if isinstance(n, str) else f"[{n.text}]" for n in names)
