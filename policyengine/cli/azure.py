"""The live side of the command line: ``scan --azure`` and ``collect --azure``.

Imported only when ``--azure`` is given, so an offline scan and ``--help`` load no Azure SDK.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from policyengine import __version__, ir
from policyengine.catalog import catalog
from policyengine.errors import IncompleteEvaluation, UsageError
from policyengine.kql.plan import Plan, PlanError, build_plan
from policyengine.records.reader import HEADER_KEY, Input, Row
from policyengine.sources.azure.arm import ArmAuthError, ArmClient
from policyengine.sources.azure.auth import make_credential, resolve_cloud
from policyengine.sources.azure.graph import GraphClient
from policyengine.sources.azure.live import LiveScan, Scope


@dataclass
class Live:
    """A live scan's input and what it did."""

    scan: LiveScan
    input: Input
    started: float


def _progress(args: argparse.Namespace) -> Any:
    if args.quiet or not sys.stderr.isatty():
        return None

    def show(text: str) -> None:
        sys.stderr.write(f"\r\x1b[K{text[:120]}")
        sys.stderr.flush()

    return show


def open_live(args: argparse.Namespace, rules: tuple[ir.Rule, ...]) -> Live:
    if args.subscription and args.management_group:
        raise UsageError("give --subscription or --management-group, not both")
    try:
        plan: Plan = build_plan(rules, catalog(*(Path(f) for f in args.catalog)))
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    cloud = resolve_cloud(args.cloud, args.arm_endpoint)
    credential = make_credential(args.auth, cloud)
    verify: str | bool = os.environ.get("REQUESTS_CA_BUNDLE") or True
    graph = GraphClient(credential, cloud.arm_endpoint, cloud.audience, verify=verify, timeout=args.timeout)
    arm = ArmClient(credential, cloud.arm_endpoint, cloud.audience, verify=verify, timeout=args.timeout)
    scope = Scope(tuple(args.subscription), args.management_group)
    scan = LiveScan(plan, graph, arm, scope, concurrency=args.concurrency, progress=_progress(args))
    header = {"kind": "live", "order": "parent-first"}
    rows = (Row(row, 0) for row in scan.rows())
    return Live(scan, Input(f"azure:{scope.describe()}", header, rows), time.monotonic())


@contextmanager
def azure_errors() -> Iterator[None]:
    """Authentication and transport failures as one clear line, exit code 3."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    try:
        yield
    except (ClientAuthenticationError, ArmAuthError) as exc:
        first = (getattr(exc, "message", None) or str(exc)).strip().splitlines()[0]
        raise IncompleteEvaluation(
            f"authentication failed: {first} — sign in with `az login` (or --auth), or put a token "
            "in POLICYENGINE_ACCESS_TOKEN") from None
    except AzureError as exc:
        raise IncompleteEvaluation(f"Azure could not be reached: {exc}") from None


def finish(live: Live, args: argparse.Namespace) -> dict[str, Any]:
    """The scan's status for the report; a summary on stderr with --verbose."""
    scan = live.scan
    if _progress(args):
        sys.stderr.write("\r\x1b[K")
    status = {"source": "live", **scan.status.to_json()}
    if args.verbose:
        g, a = scan.graph.stats, scan.arm.stats
        sys.stderr.write(
            f"policyengine: {g.requests} Resource Graph requests ({g.pages} pages, {g.rows} rows, "
            f"{g.throttled} throttled, {g.waited:.1f} s waited, quota left {g.quota_remaining}), "
            f"{a.requests} ARM requests ({a.failures} failed), "
            f"{time.monotonic() - live.started:.1f} s\n")
    return status


def snapshot_header(args: argparse.Namespace, rules: tuple[ir.Rule, ...], live: Live) -> dict[str, Any]:
    return {HEADER_KEY: {
        "kind": "snapshot", "version": 1, "order": "parent-first", "tool": f"policyengine {__version__}",
        "collectedAt": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scope": {"subscriptions": list(args.subscription), "managementGroup": args.management_group,
                  "cloud": args.cloud},
        "rules": [r.id for r in rules],
    }}


def run_collect(args: argparse.Namespace) -> int:
    from policyengine.cli.scan import selected_rules

    if not args.azure:
        raise UsageError("collect reads live Azure: add --azure")
    rules = selected_rules(args)
    target = Path(args.output)
    partial = target.with_name(target.name + ".partial")
    live = open_live(args, rules)
    try:
        with azure_errors(), partial.open("w", encoding="utf-8") as out:
            _write(out, snapshot_header(args, rules, live))
            count = 0
            for row in live.input.rows:
                _write(out, row.data)
                count += 1
            status = finish(live, args)
            status["tenantId"] = live.scan.status.tenant_id
            _write(out, {HEADER_KEY: {"status": status}})
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    if not args.quiet:
        print(f"policyengine: wrote {count} rows to {target}"
              + ("" if status["complete"] else " (incomplete: see its last line)"), file=sys.stderr)
    return 0 if status["complete"] or args.allow_incomplete else 3


def _write(out: IO[str], row: dict[str, Any]) -> None:
    # The id first: a scan of the snapshot reads it without parsing rows no rule needs.
    if "id" in row:
        row = {"id": row["id"], **row}
    out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
