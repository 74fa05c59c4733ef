"""A rule's Azure CLI fix with the real names filled in.

A rule's ``remediation.cli`` is written once for every resource, with placeholders:
``<subscription-id>``, ``<resource-group>`` and ``<server>`` (the top-level resource's name: a
child's parent). A finding knows its resource id, so a report shows the command for that
resource: the placeholders are replaced by the values the id holds. A value a template leaves
to deployment (written ``[subscription().subscriptionId]`` in the id) stays a placeholder, as
does anything a custom rule names that no id holds.

Every value is quoted for a POSIX shell when it needs it (:func:`shlex.quote`): a resource name
comes from the input and must not become a second command when the line is pasted.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Mapping

from policyengine.findings import Finding

#: A value a command still needs: a placeholder of the rule's (``<server>``,
#: ``<security-team@example.com>``) that the resource id did not fill.
_UNFILLED = re.compile(r"<[^<>\s'\"]+>")


def id_values(resource_id: str) -> dict[str, str]:
    """The placeholders a resource id fills: its subscription, resource group and top-level
    resource name, each only when the id holds it as a value (not a template expression)."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    values: dict[str, str] = {}

    def after(key: str, offset: int = 1) -> str | None:
        if key not in lowered:
            return None
        at = lowered.index(key) + offset
        return parts[at] if at < len(parts) else None

    found = {"<subscription-id>": after("subscriptions"), "<resource-group>": after("resourcegroups")}
    # providers/Namespace/type/NAME: the top-level resource, whichever child the id names.
    found["<server>"] = after("providers", 3)
    for placeholder, value in found.items():
        if value and _known(value):
            values[placeholder] = value
    return values


def _known(value: str) -> bool:
    """Whether an id segment is a value: the template builders write what is known only at
    deployment as an expression in brackets (``[resourceGroup().name]``)."""
    return not value.startswith(("[", "{", "<"))


def fill(command: str, values: Mapping[str, str]) -> str:
    """``command`` with each placeholder of ``values`` replaced by its value, shell-quoted. A
    value that needs quoting where the placeholder sits inside double quotes (a URL in a
    body) stays a placeholder: single quotes there would be part of the text."""
    out: list[str] = []
    for part in _parts(command, tuple(values)):
        if isinstance(part, str):
            out.append(part)
            continue
        placeholder, quoted = part
        value = values[placeholder]
        safe = shlex.quote(value)
        out.append(placeholder if quoted and safe != value else safe)
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _parts(command: str, placeholders: tuple[str, ...]) -> tuple[str | tuple[str, bool], ...]:
    """``command`` cut into literal text and the placeholders in it, each with whether it sits
    inside double quotes. Where a placeholder is, and whether it is quoted, depends on the
    command alone (a value is inserted, never scanned), so a rule's command is cut once per
    report rather than scanned character by character for every failing resource."""
    parts: list[str | tuple[str, bool]] = []
    literal: list[str] = []
    quoted = False
    at = 0
    while at < len(command):
        char = command[at]
        placeholder = next((p for p in placeholders if command.startswith(p, at)), None)
        if placeholder is not None:
            parts.append("".join(literal))
            literal = []
            parts.append((placeholder, quoted))
            at += len(placeholder)
            continue
        if char == "\\" and at + 1 < len(command):
            literal.append(command[at:at + 2])
            at += 2
            continue
        if char == '"':
            quoted = not quoted
        literal.append(char)
        at += 1
    parts.append("".join(literal))
    return tuple(parts)


def unfilled(command: str) -> bool:
    """Whether ``command`` still holds a placeholder: it cannot be run as it is."""
    return _UNFILLED.search(command) is not None


def fix_command(finding: Finding) -> str | None:
    """The CLI command that fixes ``finding``'s resource, or None when the rule gives none.
    A rule on every related resource of a type names the one to change with a placeholder
    after that type (``<firewall-rule>`` for ``firewallRules``): a failing finding gets one
    command per resource that matched, one per line."""
    cli = finding.rule.metadata.remediation.cli
    if not cli:
        return None
    command = fill(_one_line(cli), _id_values(finding.resource_id))
    for rel in finding.rule.related:
        placeholder = element_placeholder(rel.type)
        names = [n for ev in finding.evidence if ev.path == f"related.{rel.name}" for n in ev.matched if n]
        if rel.is_list and placeholder in command and names:
            return "\n".join(fill(command, {placeholder: name}) for name in dict.fromkeys(names))
    return command


def element_placeholder(related_type: str) -> str:
    """``<firewall-rule>`` for ``…/firewallRules``: the placeholder a fix writes for one
    related resource of that type."""
    last = related_type.rsplit("/", 1)[-1]
    words = re.sub(r"(?<!^)(?=[A-Z])", "-", last).lower()
    return f"<{words[:-1] if words.endswith('s') else words}>"


@functools.lru_cache(maxsize=256)
def _one_line(cli: str) -> str:
    return " ".join(cli.split())


# The findings of one resource come together (every rule on it in turn): its values are read
# once. The cached dict is never changed: fill only reads it.
_id_values = functools.lru_cache(maxsize=64)(id_values)
