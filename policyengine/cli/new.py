"""``policyengine new rule``: a rule file to start from — schema line, metadata, a condition
on a real property of the chosen type, and one passing and one failing test, so the file loads,
lints and tests green before its author changes a word."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from policyengine.errors import UsageError
from policyengine.loading.rules import load_rules

ID = re.compile(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)+")
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "schemas" / "rule.schema.json"

TEMPLATE = """\
# yaml-language-server: $schema={schema}
# A policyengine rule: what a secure {noun} looks like. Reference: docs/authoring.md.
# Check it with `policyengine lint {file}` and `policyengine test {file}`; see a verdict with
# `policyengine explain {id} <resource> <export or template>`.
apiVersion: policyengine/v1
kind: Rule
metadata:
  id: {id}
  title: {title}
  severity: {severity}
  description: >
    What the rule checks and why it matters; a reviewer reads this first.
  remediation:
    text: How to fix a failing resource.
    # portal: Where to click in the Azure portal.
    # cli: az ... (the command that fixes it)
  references: []
  # controls: {{mcsb: [NS-2], cis-azure-3.0.0: ["4.3.1"]}}
  tags: []
spec:
  resource: {resource}
  # where: {{field: properties.state, notEquals: Dropping, onMissing: pass}}
  condition: {{field: {path}, equals: {good}}}
  # What an absent value yields: fail, pass or unknown.
  onMissing: unknown
  tests:
    - name: {good} passes
      resource: {{name: example, {resource_body_good}}}
      expect: pass
    - name: {bad} fails
      resource: {{name: example, {resource_body_bad}}}
      expect: fail
"""

#: A real property of each common type to start the condition from.
STARTERS = {
    "microsoft.dbforpostgresql/flexibleservers":
        ("flexible server", "properties.network.publicNetworkAccess", "Disabled", "Enabled"),
    "microsoft.dbforpostgresql/servers":
        ("single server", "properties.sslEnforcement", "Enabled", "Disabled"),
    "microsoft.resources/subscriptions": ("subscription", "properties.state", "Enabled", "Disabled"),
}
GENERIC = ("resource", "properties.enabled", "true", "false")


def run_new(args: argparse.Namespace) -> int:
    if not ID.fullmatch(args.id):
        raise UsageError(f"rule id {args.id!r}: use upper-case words joined by '-', like ACME-PG-001")
    noun, path, good, bad = STARTERS.get(args.resource.lower(), GENERIC)
    target = Path(args.output or f"{args.id.lower()}.yaml")
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists (use --force to overwrite)")
    text = TEMPLATE.format(
        schema=f"./{SCHEMA.name}", noun=noun, file=target, id=args.id, title=args.title,
        severity=args.severity, resource=args.resource, path=path, good=good, bad=bad,
        resource_body_good=_body(path, good), resource_body_bad=_body(path, bad))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        _write_schema(target.parent / SCHEMA.name)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    load_rules([target], include_bundled=False)  # the scaffold must load: a broken one is our bug
    print(f"wrote {target}: edit the condition and tests, then `policyengine test {target}`", file=sys.stderr)
    return 0


def _write_schema(path: Path) -> None:
    """The rule schema beside the rule, which the ``$schema`` line names by a relative path:
    an editor finds it wherever the folder is committed or cloned (the installed package's
    absolute path exists on one machine only). Only YAML files are rules, so it is never
    loaded as one; an outdated copy is brought up to date."""
    current = SCHEMA.read_text(encoding="utf-8")
    if not path.exists() or path.read_text(encoding="utf-8") != current:
        path.write_text(current, encoding="utf-8")


def _body(path: str, value: str) -> str:
    """``properties.network.publicNetworkAccess``, ``Disabled`` -> flow YAML for a test resource."""
    parts = path.split(".")
    text = f"{parts[-1]}: {value}"
    for part in reversed(parts[:-1]):
        text = f"{part}: {{{text}}}"
    return text
