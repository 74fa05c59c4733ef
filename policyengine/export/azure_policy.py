"""Rules as Azure Policy definitions (JSON): a third back end beside the KQL compiler and the
Python evaluator, reading the same IR.

* A rule on the resource's own properties becomes an ``audit`` definition (``deny``-capable):
  its ``if`` is the type test, the ``where`` that must pass and the condition that must fail.
* A rule that reads a related resource becomes an ``auditIfNotExists`` definition, as the
  built-ins do for server parameters and ATP settings (c29c38cb, a43d5475, d38668f5): the
  child's type and name go to ``details``, a subscription-scope one with
  ``existenceScope: subscription`` (0a9fbe0d), and the resource is compliant where a related
  resource exists on which the rule does not fail — the ``existenceCondition``.
* What Azure Policy cannot say exactly (two related resources in one rule, a case-sensitive
  comparison, a path without a known alias...) raises :class:`Unsupported`, which becomes a
  :class:`Diagnostic`: the rule is listed with the reason, never exported as a weaker policy
  (as the KQL back end reports what it cannot express).

Effects: https://learn.microsoft.com/azure/governance/policy/concepts/effect-basics
(``deny`` is decided on the request for the resource itself, so it cannot look at child
resources: effect-deny, effect-audit-if-not-exists). Definition shape:
https://learn.microsoft.com/azure/governance/policy/concepts/definition-structure-basics
(name at most 64 characters, displayName 128, description 512).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from policyengine import ir
from policyengine.export.aliases import AliasTable, Field, alias_table
from policyengine.export.conditions import Json, Translator, Unsupported, all_of, negate
from policyengine.operators import OPERATORS
from policyengine.paths import FieldPath

#: Never change it: a definition's name is derived from it and the rule id, so that a
#: re-export updates the definition it created before instead of adding another.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "policyengine:export:azure-policy")
CATEGORY = "SQL"
VERSION = "1.0.0"
MAX_DISPLAY_NAME, MAX_DESCRIPTION = 128, 512


class Effect(enum.Enum):
    """The effects a definition can default to, spelled as the built-ins spell them."""

    AUDIT = "Audit"
    DENY = "Deny"
    AUDIT_IF_NOT_EXISTS = "AuditIfNotExists"

    @classmethod
    def parse(cls, text: str) -> Effect:
        for effect in cls:
            if effect.value.lower() == text.lower():
                return effect
        raise ValueError(f"unknown effect {text!r}")


@dataclass(frozen=True)
class Diagnostic:
    """A rule that cannot be exported, and why."""

    rule_id: str
    construct: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.rule_id}: cannot export: {self.reason}"


@dataclass(frozen=True)
class Definition:
    """One rule's definition: the ``{name, type, properties}`` body of a PUT to
    ``.../providers/Microsoft.Authorization/policyDefinitions/{name}``."""

    rule_id: str
    document: Json


@dataclass(frozen=True)
class Export:
    """What an export wrote and what it could not, each sorted by rule id."""

    definitions: tuple[Definition, ...]
    diagnostics: tuple[Diagnostic, ...]


def definition_name(rule_id: str) -> str:
    """A GUID from the rule id (ids are matched case-insensitively, so is this)."""
    return str(uuid.uuid5(NAMESPACE, rule_id.lower()))


def export_rules(rules: Iterable[ir.Rule], effect: Effect | None = None,
                 table: AliasTable | None = None) -> Export:
    """Every rule that Azure Policy can express as a definition; the others as diagnostics.
    ``effect`` is the definitions' default effect (None: by rule, see :func:`export_rule`)."""
    definitions: list[Definition] = []
    diagnostics: list[Diagnostic] = []
    for rule in sorted(rules, key=lambda r: r.id):
        try:
            definitions.append(Definition(rule.id, export_rule(rule, effect, table)))
        except Unsupported as exc:
            diagnostics.append(Diagnostic(rule.id, exc.construct, exc.reason))
    return Export(tuple(definitions), tuple(diagnostics))


def export_rule(rule: ir.Rule, effect: Effect | None = None, table: AliasTable | None = None) -> Json:
    """The definition of ``rule``; raises :class:`Unsupported`. Without ``effect``, a rule
    that reads a related resource defaults to auditIfNotExists and any other to audit."""
    table = table or alias_table()
    target = table.type(rule.resource_type)
    if target is None:
        raise Unsupported("resource", f"no Azure Policy aliases are known for {rule.resource_type} "
                          "(policyengine/export/aliases.yaml)")
    translator = Translator(rule, _resolver(rule, table))
    own_where, related_where = _split_where(rule)
    condition_owner = _single_owner(rule.condition, "its condition", rule)
    related_names = {_owner_of(item, rule) for item in related_where} | ({condition_owner} - {None})
    if len(related_names) > 1:
        types = " and ".join(sorted(_related(rule, str(n)).type for n in related_names))
        raise Unsupported("related", f"it reads {types}; an auditIfNotExists definition looks for one "
                          "related resource type (details.type): no single definition says it")
    # The resource is flagged where its where passes and its condition fails: the parts on
    # the resource itself in 'if', the parts on the related resource in 'existenceCondition'.
    checks = [translator.passes(item) for item in own_where]
    if condition_owner is None:
        checks.append(translator.fails(rule.condition))
    if not related_names:
        chosen = effect or Effect.AUDIT
        if chosen is Effect.AUDIT_IF_NOT_EXISTS:
            raise Unsupported("effect", "auditIfNotExists looks for a related resource, and this rule reads "
                              "only the resource's own properties (use audit or deny)")
        then: Json = {"effect": "[parameters('effect')]"}
        allowed = [Effect.AUDIT, Effect.DENY]
    else:
        chosen = effect or Effect.AUDIT_IF_NOT_EXISTS
        rel = _related(rule, str(next(iter(related_names))))
        _check_effect(chosen, rel)
        if rel.is_list:
            existence = _every_existence(rule, rel, table, related_where)
        else:
            failing = [translator.passes(item) for item in related_where]
            if condition_owner is not None:
                failing.append(translator.fails(rule.condition))
            _check_absence(rule, rel, table, related_where, condition_owner is not None)
            existence = negate(all_of(*failing))
        then = {"effect": "[parameters('effect')]", "details": _details(rel, existence)}
        allowed = [Effect.AUDIT_IF_NOT_EXISTS]
    type_test: Json = {"field": "type", "equals": rule.resource_type}
    return {
        "name": definition_name(rule.id),
        "type": "Microsoft.Authorization/policyDefinitions",
        "properties": {
            "displayName": _shorten(rule.metadata.title, MAX_DISPLAY_NAME),
            "description": _shorten(rule.metadata.description, MAX_DESCRIPTION),
            "policyType": "Custom",
            "mode": target.mode,
            "metadata": {"category": CATEGORY, "version": VERSION, "policyengine": {"rule": rule.id}},
            "parameters": {"effect": _effect_parameter(chosen, allowed)},
            "policyRule": {"if": all_of(type_test, *checks), "then": then},
        },
    }


# -- which resource each part of a rule reads ---------------------------------------------------

def _owners(node: ir.Condition) -> set[str | None]:
    """The resources ``node`` reads: None for the resource itself, a related name otherwise
    (an element path belongs to its count's array)."""
    if isinstance(node, ir.Compare):
        if node.path.element:
            return set()
        return {node.path.related_name if node.path.is_related else None}
    if isinstance(node, ir.Count):
        inner = _owners(node.where) if node.where is not None else set()
        if node.path.element:
            return inner
        return {node.path.related_name if node.path.is_related else None} | inner
    if isinstance(node, ir.Not):
        return _owners(node.item)
    return set().union(*(_owners(item) for item in node.items))


def _single_owner(node: ir.Condition, what: str, rule: ir.Rule) -> str | None:
    owners = _owners(node)
    if len(owners) > 1 and None not in owners:
        types = " and ".join(sorted(_related(rule, str(n)).type for n in owners))
        raise Unsupported("related", f"{what} reads {types} together; an auditIfNotExists definition "
                          "looks for one related resource type (details.type): no single definition says it")
    if len(owners) > 1:
        raise Unsupported("condition", f"{what} mixes the resource's own properties and a related "
                          "resource's in one test: an auditIfNotExists definition tests the resource in "
                          "'if' and the related resource in 'existenceCondition', separately")
    return next(iter(owners), None)


def _owner_of(node: ir.Condition, rule: ir.Rule) -> str | None:
    return _single_owner(node, "its where", rule)


def _split_where(rule: ir.Rule) -> tuple[list[ir.Condition], list[ir.Condition]]:
    """The ``where`` as conjuncts on the resource itself and conjuncts on a related one."""
    if rule.where is None:
        return [], []
    items = list(rule.where.items) if isinstance(rule.where, ir.AllOf) else [rule.where]
    own = [i for i in items if _owner_of(i, rule) is None]
    return own, [i for i in items if _owner_of(i, rule) is not None]


def _related(rule: ir.Rule, name: str) -> ir.Related:
    rel = rule.related_named(name)
    assert rel is not None, "the loader checks related names"
    return rel


def _resolver(rule: ir.Rule, table: AliasTable) -> Callable[[FieldPath], Field]:
    def resolve(path: FieldPath) -> Field:
        type_name, segments = rule.resource_type, path.segments
        if path.is_related:
            type_name, segments = _related(rule, path.related_name).type, segments[2:]
        found = table.field(type_name, segments)
        if found is None:
            shown = ".".join(map(str, segments))
            raise Unsupported("field", f"{path.text}: no Azure Policy alias is known for {shown} on "
                              f"{type_name} (policyengine/export/aliases.yaml)")
        return found

    return resolve


# -- auditIfNotExists ---------------------------------------------------------------------------

def _check_effect(effect: Effect, rel: ir.Related) -> None:
    if effect is not Effect.AUDIT_IF_NOT_EXISTS:
        name = effect.value.lower()
        raise Unsupported("effect", f"{name} cannot look at {rel.type}: Azure Policy decides {name} on "
                          f"the resource's own properties, and the {rel.type.rsplit('/', 1)[1]} "
                          f"'{rel.resource_name}' is another resource (use auditIfNotExists)")


def _every_existence(rule: ir.Rule, rel: ir.Related, table: AliasTable,
                     related_where: Sequence[ir.Condition]) -> Json:
    """The existenceCondition for a rule on every resource of a type: auditIfNotExists finds
    the resource compliant where at least one of them matches it, which is a rule whose
    condition is ``count`` of them with ``greater: 0`` (or ``greaterOrEquals: 1``) and whose
    where reads only the resource itself. Its ``@`` paths are the related resource's fields."""
    count = rule.condition
    exact = isinstance(count, ir.Count) and count.path.segments == ("related", rel.name) and \
        (count.op, count.value) in (("greater", 0), ("greaterOrEquals", 1))
    if isinstance(count, ir.Count) and count.wants_none:
        raise Unsupported("count", f"the rule asks that no {rel.type} match: Azure Policy says that with a "
                          f"definition on {rel.type} itself (audit the one that matches), which this "
                          "export does not write; auditIfNotExists can only ask that one match")
    if not exact or related_where or not isinstance(count, ir.Count):
        raise Unsupported("count", f"auditIfNotExists asks whether one {rel.type} matches; this rule's "
                          f"condition is not 'count of related.{rel.name} greater than 0' alone")
    entry = table.type(rel.type)
    fields = dict(entry.fields) if entry is not None else {}
    element = Field(rel.type, "object", fields=fields)
    inner = Translator(rule, _resolver(rule, table), element)
    if count.where is None:
        return {"field": "type", "equals": rel.type}
    if inner.may_be_unknown(count.where):
        raise Unsupported("count", f"count on related.{rel.name}: its where can be unknown for an "
                          "element (onMissing: unknown); Azure Policy judges each resource one way")
    return inner.passes(count.where)


def _details(rel: ir.Related, existence: Json) -> Json:
    details: Json = {"type": rel.type, "existenceCondition": existence}
    if not rel.is_list:  # without a name, any resource of the type
        details = {"type": rel.type, "name": rel.resource_name, "existenceCondition": existence}
    if rel.scope is ir.Scope.SUBSCRIPTION:
        details["existenceScope"] = "subscription"
    return details


def _check_absence(rule: ir.Rule, rel: ir.Related, table: AliasTable,
                   related_where: Sequence[ir.Condition], condition_related: bool) -> None:
    """auditIfNotExists reports a resource whose related resource does not exist. That is
    faithful only where Azure always has the related resource, or where the rule fails too
    when it is absent (its where passes and its condition fails on absent values)."""
    entry = table.type(rel.type)
    if entry is not None and entry.always_exists:
        return
    where = _when_absent(ir.AllOf(tuple(related_where)), rule) if related_where else "pass"
    condition = _when_absent(rule.condition, rule) if condition_related else "fail"
    if (where, condition) != ("pass", "fail"):
        verdict = "not applicable" if where == "fail" else "unknown" if "unknown" in (where, condition) \
            else "pass"
        raise Unsupported("onMissing", f"auditIfNotExists reports a resource without {rel.type} "
                          f"'{rel.resource_name}' as non-compliant, where this rule says {verdict} "
                          "(onMissing), and Azure may have no such resource")


def _when_absent(node: ir.Condition, rule: ir.Rule) -> str:
    """The node's verdict when the related resource it reads is absent: every value missing,
    an array with no elements (count.where is never reached)."""
    if isinstance(node, ir.Compare):
        if OPERATORS[node.op].presence:
            return "pass" if node.value is False else "fail"
        return (node.on_missing or rule.on_missing).value
    if isinstance(node, ir.Count):
        return "pass" if OPERATORS[node.op].predicate(0, node.value, True) else "fail"
    if isinstance(node, ir.Not):
        return {"pass": "fail", "fail": "pass"}.get(_when_absent(node.item, rule), "unknown")
    verdicts = {_when_absent(item, rule) for item in node.items}
    decisive, other = ("fail", "pass") if isinstance(node, ir.AllOf) else ("pass", "fail")
    return decisive if decisive in verdicts else ("unknown" if "unknown" in verdicts else other)


# -- the rest of the definition -----------------------------------------------------------------

def _effect_parameter(default: Effect, allowed: list[Effect]) -> Json:
    return {
        "type": "String",
        "defaultValue": default.value,
        "allowedValues": [e.value for e in allowed] + ["Disabled"],
        "metadata": {"displayName": "Effect",
                     "description": "What a non-compliant resource gets; Disabled turns the policy off"},
    }


def _shorten(text: str, limit: int) -> str:
    """One line, within Azure's limit: cut at a sentence end if one is near, else a word."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit - 1]
    sentence = cut.rfind(". ")
    if sentence > limit // 2:
        return cut[:sentence + 1]
    return cut[:cut.rfind(" ")] + "…"
