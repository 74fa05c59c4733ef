"""A live scan as a :class:`~policyengine.sources.Source`: sign in, plan the queries, stream
the rows in parent-first order, and say what could not be read.

Imported only when ``--azure`` is given, so an offline scan and ``--help`` load no Azure SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from policyengine import ir
from policyengine.catalog import catalog
from policyengine.errors import IncompleteEvaluation, UsageError
from policyengine.kql.plan import Plan, PlanError, build_plan
from policyengine.sources.azure.arm import ArmAuthError, ArmClient
from policyengine.sources.azure.auth import credential_name, make_credential, resolve_cloud
from policyengine.sources.azure.graph import GraphClient
from policyengine.sources.azure.live import LiveScan, Scope
from policyengine.sources.azure.progress import LiveProgress
from policyengine.sources.azure.signin import route_sdk_logs, sign_in_failure
from policyengine.sources.export import Input, Row
from policyengine.sources.progress import no_progress, progress_line
from policyengine.status import ScanStatus

if TYPE_CHECKING:
    from policyengine.records.model import Record
    from policyengine.records.wanted import Wanted
    from policyengine.status import Stats


@dataclass
class LiveSource:
    """Live Azure: Resource Graph and ARM, read as one parent-first stream of rows."""

    scan: LiveScan
    input: Input
    verbose: bool = False
    #: What signs in (a credential's class), for the message if it cannot.
    credential: str = "DefaultAzureCredential"
    started: float = field(default_factory=time.monotonic)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.names = (self.input.name,)

    def records(self, wanted: Wanted, log: Stats) -> Iterator[Record]:
        from policyengine.records.assemble import assemble

        with self.errors():
            yield from assemble([self.input], wanted, log)

    def errors(self) -> contextlib.AbstractContextManager[None]:
        """:func:`azure_errors` for this scan: its progress line erased before any message."""
        return azure_errors(self.credential, verbose=self.verbose, progress=self.scan.progress)

    def status(self) -> ScanStatus:
        """The scan's status for the report; a summary on stderr with --verbose."""
        scan = self.scan
        scan.progress.close()  # before the summary and the report: they start on a clean line
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
    route_sdk_logs(args.verbose)
    credential = make_credential(args.auth, cloud)
    verify: str | bool = os.environ.get("REQUESTS_CA_BUNDLE") or True
    graph = GraphClient(credential, cloud.arm_endpoint, cloud.audience, verify=verify, timeout=args.timeout)
    arm = ArmClient(credential, cloud.arm_endpoint, cloud.audience, verify=verify, timeout=args.timeout)
    scope = Scope(tuple(args.subscription), args.management_group)
    # Progress on a terminal only, and not with --no-progress or --quiet.
    progress = LiveProgress(progress_line(not no_progress(args)))
    scan = LiveScan(plan, graph, arm, scope, concurrency=args.concurrency, progress=progress)
    header = {"kind": "live", "order": "parent-first"}
    rows = (Row(row, 0) for row in scan.rows())
    return LiveSource(scan, Input(f"azure:{scope.describe()}", header, rows), verbose=args.verbose,
                      credential=credential_name(credential))


@contextmanager
def azure_errors(credential: str = "DefaultAzureCredential", *, verbose: bool = False,
                 progress: LiveProgress | None = None) -> Iterator[None]:
    """A sign-in that failed, or Azure out of reach, as one line (the SDK's detail under
    ``-v``), exit code 3; the progress line is erased first, and whatever else ends the scan
    (Ctrl-C, a bug) erases it too."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    try:
        yield
    except (ClientAuthenticationError, ArmAuthError) as exc:
        raise IncompleteEvaluation(sign_in_failure(exc, credential, verbose=verbose)) from None
    except AzureError as exc:
        text = str(exc).strip() or type(exc).__name__
        first = text.splitlines()[0]
        detail = text if verbose or first == text else f"{first}; -v shows the SDK's detail"
        raise IncompleteEvaluation(f"Azure could not be reached: {detail}") from None
    finally:
        if progress is not None:
            progress.close()
