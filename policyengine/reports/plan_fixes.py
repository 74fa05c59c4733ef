"""A Terraform plan finding's fix in the azurerm provider's terms: the attribute to set on the
resource the plan names, or the resource to add, as HCL (:mod:`.template_fixes` says when a
rule gives a value at all).

The attribute comes from :mod:`policyengine.sources.terraform.mapping`, read the other way
round: the ARM path a rule reads -> the provider attribute that fills it, with the value
converted back (an ``Enabled``/``Disabled`` enum is a boolean there). What the mapping does
not know (a setting the provider writes through another resource, a value it derives from
several attributes) is named by its ARM path instead, as a JSON snippet. A plan has no lines
to point at; the resource is named by its address, which is where the fix goes in the
configuration.
"""

from __future__ import annotations

import json
import re
from typing import Any

from policyengine import ir
from policyengine.findings import Evidence, Finding
from policyengine.reports.template_fixes import DEFAULT_ASSUMED, Action, Change, Target, alternatives, nest
from policyengine.sources.terraform import mapping
from policyengine.sources.terraform.addresses import ResourceAddr, key_text, parse_address


def is_plan(finding: Finding) -> bool:
    """Whether the finding's resource is one a Terraform plan declares (its address is a
    provider resource's, not a template's ``resources[0]`` or symbolic name)."""
    addr = _address(finding)
    return addr is not None and addr.type.startswith("azurerm_")


def plan_change(finding: Finding, evidence: Evidence, target: Target) -> Change | None:
    addr = _address(finding)
    if addr is None:
        return None
    related = target.related
    segments = tuple(str(s) for s in (target.path.segments[2:] if related else target.path.segments))
    if related is None:
        return _server_attribute(finding, addr, segments, target)
    if related.scope is not ir.Scope.CHILD:
        return None  # a subscription's resource: the plan's address here is the server's
    declared = evidence.present and DEFAULT_ASSUMED not in (evidence.note or "")
    kind = mapping.SERVERS.get(addr.type)
    block = next((b for b in kind.blocks if b.child_type.lower() == related.type.lower()
                  and b.child_name.lower() == related.resource_name.lower()), None) if kind else None
    if block is not None:  # a nested block of the server (a single server's threat_detection_policy)
        found = _attribute(block.fields, segments, target.value)
        if found is None:
            return None
        attribute, value = found
        snippet = f"{block.attribute} {{\n  {attribute} = {_hcl(value)}\n}}"
        action = Action.SET if declared else Action.ADD
        return _change(finding, action, f"{block.attribute}.{attribute}", value,
                       f"set {block.attribute} {{ {attribute} = {_hcl(value)} }} in {addr}", snippet)
    child = next(((name, c) for name, c in mapping.CHILDREN.items()
                  if c.child_type.lower() == related.type.lower() and addr.type in c.parents), None)
    if child is None:
        return _arm_path(finding, addr, related, segments, value=target.value, declared=declared)
    tf_type, kind_of_child = child
    found = _attribute(kind_of_child.fields, segments, target.value)
    if found is None:
        return None
    attribute, value = found
    also = alternatives(target) if value == target.value else ""
    if declared:
        return _change(finding, Action.SET, attribute, value,
                       f"set {attribute} = {_hcl(value)}{also} in the {tf_type} named "
                       f"{_hcl(related.resource_name)} of {addr}", f"{attribute} = {_hcl(value)}")
    own = f"{addr.local}{key_text(addr.key)}"  # as the configuration of its module refers to it
    if kind_of_child.parent_id:
        parent = [(kind_of_child.parent_id, f"{own}.id")]
    else:
        server, group = kind_of_child.parent_names
        parent = [(server, f"{own}.name"), (group, f"{own}.resource_group_name")]
    body = [("name", _hcl(related.resource_name)), *parent, (attribute, _hcl(value))]
    width = max(len(k) for k, _ in body)
    label = re.sub(r"[^A-Za-z0-9_]", "_", f"{addr.name}_{related.resource_name}")
    snippet = "\n".join([f'resource "{tf_type}" "{label}" {{',
                         *(f"  {k.ljust(width)} = {v}" for k, v in body), "}"])
    return _change(finding, Action.DECLARE, attribute, value,
                   f"add resource {tf_type} for {addr} with {attribute} = {_hcl(value)}{also}", snippet)


def _server_attribute(finding: Finding, addr: ResourceAddr, segments: tuple[str, ...],
                      target: Target) -> Change | None:
    value = target.value
    kind = mapping.SERVERS.get(addr.type)
    found = _attribute(kind.fields, segments, value) if kind is not None else None
    if found is None:
        path = ".".join(segments)
        return _change(finding, Action.SET, path, value,
                       f"set {path} to {json.dumps(value)} (an ARM path: the provider attribute that sets "
                       f"it is not known here) on {addr}", json.dumps(nest(segments, value)), "json")
    attribute, converted = found
    also = alternatives(target) if converted == value else ""
    return _change(finding, Action.SET, attribute, converted,
                   f"set {attribute} = {_hcl(converted)}{also} on {addr}", f"{attribute} = {_hcl(converted)}")


def _arm_path(finding: Finding, addr: ResourceAddr, related: ir.Related, segments: tuple[str, ...], *,
              value: Any, declared: bool) -> Change:
    """A child the provider sets through a resource the mapping does not describe: its ARM
    path and value (Azure's own setting, which a rule reads)."""
    path = ".".join(segments)
    verb = "set" if declared else "make the plan declare"
    return _change(finding, Action.SET if declared else Action.DECLARE, path, value,
                   f"{verb} {related.shown} with {path} = {json.dumps(value)} for {addr} (its ARM path: "
                   "no azurerm attribute for it is known here)", json.dumps(nest(segments, value), indent=2),
                   "json")


def _attribute(fields: tuple[mapping.Field, ...], segments: tuple[str, ...],
               value: Any) -> tuple[str, Any] | None:
    """The provider attribute that fills the ARM path ``segments`` (the last field listed
    wins, as when the provider is read) and ``value`` in its terms; None when the mapping
    has none or converts values in a way that cannot be read back."""
    found = [f for f in fields if tuple(a.lower() for a in f.arm) == tuple(s.lower() for s in segments)]
    if not found or any(isinstance(step, int) for step in found[-1].tf):
        return None
    spec = found[-1]
    if spec.convert is mapping.enabled:
        if value not in ("Enabled", "Disabled"):
            return None
        converted: Any = value == "Enabled"
    elif spec.convert in (None, mapping.text):
        converted = value
    else:
        return None
    return ".".join(str(step) for step in spec.tf), converted


def _change(finding: Finding, action: Action, attribute: str, value: Any, text: str, snippet: str,  # noqa: PLR0917
            language: str = "hcl") -> Change:
    return Change(action, finding.origin.file, finding.origin.line, finding.origin.column, attribute, value,
                  text, snippet, language)


def _hcl(value: Any) -> str:
    """A value in HCL: strings quoted as JSON quotes them (HCL reads the same escapes),
    booleans and numbers bare."""
    return json.dumps(value, ensure_ascii=False)


def _address(finding: Finding) -> ResourceAddr | None:
    address = finding.origin.address
    # A template's address (resources[0], a symbolic name) names no provider resource: not
    # parsed, as a large template has thousands of them.
    return parse_address(address) if address and "azurerm_" in address else None
