"""``policyengine collect --azure``: a snapshot of live Azure to replay offline.

Imported only when the command runs, so ``--help`` loads no Azure SDK.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import IO, Any

from policyengine import __version__, ir
from policyengine.cli.outputs import Destination
from policyengine.errors import UsageError
from policyengine.pipeline import selected_rules
from policyengine.sources.azure.session import open_live
from policyengine.sources.export import HEADER_KEY


def snapshot_header(args: argparse.Namespace, rules: tuple[ir.Rule, ...]) -> dict[str, Any]:
    return {HEADER_KEY: {
        "kind": "snapshot", "version": 1, "order": "parent-first", "tool": f"policyengine {__version__}",
        "collectedAt": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scope": {"subscriptions": list(args.subscription), "managementGroup": args.management_group,
                  "cloud": args.cloud},
        "rules": [r.id for r in rules],
    }}


def run_collect(args: argparse.Namespace) -> int:
    if not args.azure:
        raise UsageError("collect reads live Azure: add --azure")
    rules = selected_rules(args)
    # Written as reports are (cli/outputs.py): a file through NAME.partial, renamed into place
    # once complete; a device or a pipe directly, never replaced; a write that fails is a
    # one-line error.
    out = Destination(args.output, stream=True, what="the snapshot")
    try:
        live = open_live(args, rules)
        with live.errors():
            _write(out.handle, snapshot_header(args, rules))
            count = 0
            for row in live.input.rows:
                _write(out.handle, row.data)
                count += 1
            status = live.status()
            _write(out.handle, {HEADER_KEY: {"status": status.to_json()}})
        out.commit()
        out.publish()
    except BaseException:
        out.abort()
        raise
    if not (getattr(args, "quiet", False) or args.no_progress):
        print(f"policyengine: wrote {count} rows to {args.output}"
              + ("" if status.complete else " (incomplete: see its last line)"), file=sys.stderr)
    return 0 if status.complete or args.allow_incomplete else 3


def _write(out: IO[str], row: dict[str, Any]) -> None:
    # The id first: a scan of the snapshot reads it without parsing rows no rule needs.
    if "id" in row:
        row = {"id": row["id"], **row}
    out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
