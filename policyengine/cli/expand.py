"""``policyengine expand``: a template as the scanner sees it, so a user can see why a value
is what it is."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from policyengine.errors import UsageError
from policyengine.pipeline import template_options
from policyengine.sources.declared import Kind, Target, classify, expand_target
from policyengine.unknown import Unknown


def run_expand(args: argparse.Namespace) -> int:
    path = Path(args.template)
    if not path.is_file():
        raise UsageError(f"{args.template}: no such file")
    kind = classify(path)
    if kind not in (Kind.TEMPLATE, Kind.BICEP):
        raise UsageError(f"{args.template}: not a deployment template or Bicep file")
    expansion = expand_target(Target(path, kind, args.template), template_options(args))
    resources = []
    for res in expansion.resources:
        entry: dict[str, Any] = {
            "address": res.address,
            "id": res.id,
            "type": res.type,
            "name": res.name,
            "location": res.span.prefix() if res.span else expansion.file,
        }
        if res.existing:
            entry["existing"] = True
        if res.condition is not None:
            entry["condition"] = res.condition
        entry.update({k: v for k, v in res.body.items() if k not in entry})
        resources.append(entry)
    document = {"template": expansion.file, "resources": resources, "outputs": expansion.outputs,
                "notes": expansion.notes, "inputErrors": [p.to_json() for p in expansion.problems]}
    json.dump(document, sys.stdout, indent=2, default=_unknown, ensure_ascii=False)
    sys.stdout.write("\n")
    # A resource ARM rejects is left out of "resources": say so, as scan does (exit code 2).
    for problem in expansion.problems:
        print(problem.text(), file=sys.stderr)
    return 2 if expansion.problems else 0


def _unknown(value: Any) -> Any:
    if isinstance(value, Unknown):
        return value.to_json()
    raise TypeError(f"not JSON: {type(value).__name__}")
