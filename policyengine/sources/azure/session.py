"""A live scan as a :class:`~policyengine.sources.Source`: sign in, plan the queries, stream
the rows in parent-first order, and say what could not be read.

Imported only when ``--azure`` is given, so an offline scan and ``--help`` load no Azure SDK.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from policyengine import ir
from policyengine.catalog import catalog
from policyengine.errors import IncompleteEvaluation, UsageError
from policyengine.kql.plan import Plan, PlanError, build_plan
from policyengine.sources.azure.arm import ArmAuthError, ArmClient
from policyengine.sources.azure.auth import make_credential, resolve_cloud
from policyengine.sources.azure.graph import GraphClient
from policyengine.sources.azure.live import LiveScan, Scope
from policyengine.sources.export import Input, Row
from policyengine.status import ScanStatus

if TYPE_CHECKING:
    from policyengine.records.model import Record
    from policyengine.records.wanted import Wanted
    from policyengine.status import Stats


def progress_printer(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Progress on stderr when it is a terminal and not ``--quiet``; else none."""
    if getattr(args, "quiet", False) or args.no_progress or not sys.stderr.isatty():
        return None

    def show(text: str) -> None:
        sys.stderr.write(f"\r\x1b[K{text[:120]}")
        sys.stderr.flush()

    return show


@dataclass
class LiveSource:
    """Live Azure: Resource Graph and ARM, read as one parent-first stream of rows."""

    scan: LiveScan
    input: Input
    verbose: bool = False
    #: Whether progress is drawn on stderr (its line is cleared at the end).
    progress: bool = False
    started: float = field(default_factory=time.monotonic)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.names = (self.input.name,)

    def records(self, wanted: Wanted, log: Stats) -> Iterator[Record]:
        from policyengine.records.assemble import assemble

        with azure_errors():
            yield from assemble([self.input], wanted, log)

    def status(self) -> ScanStatus:
        """The scan's status for the report; a summary on stderr with --verbose."""
        scan = self.scan
        if self.progress:
            sys.stderr.write("\r\x1b[K")
        if self.verbose:
            g, a = scan.graph.stats, scan.arm.stats
            sys.stderr.write(
                f"policyengine: {g.requests} Resource Graph requests ({g.pages} pages, {g.rows} rows, "
                f"{g.throttled} throttled, {g.timeouts} timed out, {g.waited:.1f} s waited, "
                f"quota left {g.quota_remaining}), "
                f"{a.requests} ARM requests ({a.failures} failed, {a.timeouts} for timeouts), "
                f"{time.monotonic() - self.started:.1f} s\n")
        return scan.status


def open_live(args: argparse.Namespace, rules: tuple[ir.Rule, ...]) -> LiveSource:
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
    show = progress_printer(args)
    scan = LiveScan(plan, graph, arm, scope, concurrency=args.concurrency, progress=show)
    header = {"kind": "live", "order": "parent-first"}
    rows = (Row(row, 0) for row in scan.rows())
    return LiveSource(scan, Input(f"azure:{scope.describe()}", header, rows), verbose=args.verbose,
                      progress=show is not None)


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
