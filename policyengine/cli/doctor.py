"""``policyengine doctor --azure``: whether sign-in, the roles and the KQL dialect let a live
scan work, one line per check (policyengine/sources/azure/doctor.py has the checks).

Imported only when the command runs, so ``--help`` loads no Azure SDK.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from policyengine.catalog import catalog
from policyengine.errors import UsageError
from policyengine.pipeline import selected_rules

#: Any check failed: a live scan could not complete (docs/architecture.md, "Exit codes").
FAILED = 3


def run_doctor(args: argparse.Namespace) -> int:
    if not args.azure:
        raise UsageError("doctor checks live Azure: add --azure")
    if args.subscription and args.management_group:
        raise UsageError("give --subscription or --management-group, not both")
    from policyengine.kql.plan import PlanError, build_plan
    from policyengine.sources.azure.arm import ArmClient
    from policyengine.sources.azure.auth import make_credential, resolve_cloud
    from policyengine.sources.azure.doctor import Check, Doctor
    from policyengine.sources.azure.graph import GraphClient
    from policyengine.sources.azure.signin import route_sdk_logs

    try:
        plan = build_plan(selected_rules(args), catalog(*(Path(f) for f in args.catalog)))
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    cloud = resolve_cloud(args.cloud, args.arm_endpoint)
    route_sdk_logs(args.verbose)  # the sign-in check says what failed, in one line
    credential = make_credential(args.auth, cloud)
    verify: str | bool = os.environ.get("REQUESTS_CA_BUNDLE") or True
    # Few retries: the doctor answers in seconds, and a throttled or failing request is itself news.
    graph = GraphClient(credential, cloud.arm_endpoint, cloud.audience, verify=verify, timeout=args.timeout,
                        max_retries=2, max_wait=10.0)
    arm = ArmClient(credential, cloud.arm_endpoint, cloud.audience, verify=verify, timeout=args.timeout,
                    max_retries=1)
    doctor = Doctor(credential, cloud.audience, graph, arm, plan, tuple(args.subscription),
                    args.management_group)
    as_json = args.format == "json"

    def emit(check: Check) -> None:
        if not as_json:
            print(check.text(), flush=True)

    checks = doctor.run(emit)
    failed = any(c.status == "FAIL" for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "endpoint": cloud.arm_endpoint,
                          "checks": [c.to_json() for c in checks]}, indent=2))
    elif not (getattr(args, "quiet", False) or args.no_progress):
        print("policyengine: " + ("a check failed: a live scan would be incomplete" if failed
                                  else "every check passed"), file=sys.stderr)
    return FAILED if failed else 0
