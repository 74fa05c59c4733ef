"""``policyengine export azure-policy``: the rules as Azure Policy definitions (JSON).

Output: with ``--output DIR``, one file per exported rule, ``DIR/<rule-id>.json``, and
nothing else; without it, a JSON array of the definitions on stdout. Each rule that Azure
Policy cannot express is listed on stderr (``PG-FLEX-004: cannot export: ...``), followed by a
summary line.

Exit codes: 0 when at least one definition was written and every rule named with ``--rule``
was among them; 2 when nothing was written, or when a rule named with ``--rule`` could not be
exported (the others are still written). Asking for a rule by name is asking for it, so a
pipeline that names the rules it deploys stops when one of them is missing; exporting a whole
rule set writes what Azure Policy can express and lists the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EFFECTS = ("audit", "deny", "auditIfNotExists")

HELP = """\
Each rule becomes a definition named by a GUID derived from its id, so a re-export updates
the same definition. A rule on the resource's own properties exports with effect audit (deny
allowed); a rule that reads a related resource (a server parameter, the ATP setting, the
Defender plan) with auditIfNotExists: deny cannot look at child resources. Rules Azure Policy
cannot express exactly are listed on stderr with the reason, never exported weaker.
Exit status: 0 if at least one definition was written and every --rule was; 2 otherwise."""


def _effect(text: str) -> str:
    """``--effect`` is case-insensitive (Azure spells effects AuditIfNotExists, Deny...)."""
    return next((e for e in EFFECTS if e.lower() == text.lower()), text)


def add_export_command(sub: Any, add_rule_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``export`` command and its ``azure-policy`` format (imports nothing heavy)."""
    export = sub.add_parser("export", help="write the rules in another policy language",
                            description="Write rules in another policy language.")
    formats = export.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    azure = formats.add_parser("azure-policy", help="Azure Policy definitions (JSON)",
                               description="Write an Azure Policy definition for each selected rule "
                               "that Azure Policy can express.", epilog=HELP,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rule_options(azure)
    azure.add_argument("--rule", metavar="ID", action="append", default=[],
                       help="export only this rule; repeatable")
    azure.add_argument("--effect", type=_effect, choices=EFFECTS, metavar="EFFECT",
                       help="the definitions' default effect: audit, deny or auditIfNotExists (default: "
                       "auditIfNotExists for rules with related resources, audit otherwise); a rule "
                       "that cannot take it is listed as not exported")
    azure.add_argument("--output", "-o", metavar="DIR",
                       help="write DIR/<rule-id>.json per rule (default: a JSON array on stdout)")


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def run_export(args: argparse.Namespace) -> int:
    from policyengine.errors import UsageError
    from policyengine.export import Effect, export_rules
    from policyengine.pipeline import selected_rules

    rules = selected_rules(args)
    result = export_rules(rules, Effect.parse(args.effect) if args.effect else None)
    documents = [d.document for d in result.definitions]
    if args.output:
        folder = Path(args.output)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for definition in result.definitions:
                (folder / f"{definition.rule_id}.json").write_text(_dump(definition.document), "utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    elif documents:  # nothing exported: no empty array a pipeline could deploy as "nothing to do"
        sys.stdout.write(_dump(documents))
    for diagnostic in result.diagnostics:
        print(diagnostic.message, file=sys.stderr)
    where = f" to {args.output}" if args.output else ""
    skipped = f"; {len(result.diagnostics)} cannot be exported" if result.diagnostics else ""
    print(f"policyengine: {len(documents)} of {len(rules)} rules exported as Azure Policy "
          f"definitions{where}{skipped}", file=sys.stderr)
    named = {r.lower() for r in args.rule}
    missing = [d.rule_id for d in result.diagnostics if d.rule_id.lower() in named]
    return 2 if not documents or missing else 0
