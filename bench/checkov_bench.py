"""Time a template scan against Checkov's on the same generated ARM templates.

    python bench/checkov_bench.py [--resources 1000 10000] [--repeat 3]

For each N, a directory ``bench/out/arm-estate-N/`` (gitignored) of plain ARM templates that
both tools read is generated: every other file a flexible server with its
``require_secure_transport`` configuration (a top-level child resource), the others a single
server; locations and the configuration's value come from parameters with defaults, so the
expressions are expanded. N counts resources (1000 resources are 667 files).

Timed in child processes (forked and exec'd, as in scan_bench), the median of ``--repeat``:

* the floor: interpreter start-up plus ``json.loads`` of every file (no positions, no rules);
* ``python -m policyengine scan DIR --format json`` (report to /dev/null);
* ``checkov -d DIR --framework arm --quiet --compact`` (Checkov is found through the CHECKOV
  environment variable or on PATH; install it in a venv of its own, never into the project's).

Each figure is printed next to its goal: policyengine's time at most 0.05 of Checkov's
(long-term 0.02; the floor's ratio says how close 0.02 can get).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compiled import bench_arguments
from bench.scan_bench import spawn
from bench.template_bench import FLEX, OUT, SCHEMA

SINGLE = "Microsoft.DBforPostgreSQL/servers"
GOAL, LONG_TERM = 0.05, 0.02
FLOOR = ("import json, pathlib, sys\n"
         "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.json')): json.loads(p.read_bytes())\n")


def template(i: int, room: int) -> dict[str, Any]:
    """File ``i``: a flexible server and (room permitting) its configuration, or a single server."""
    resources: list[dict[str, Any]] = []
    if i % 2 == 0:
        name = f"pg-flex-{i:06d}"
        resources.append({
            "type": FLEX, "apiVersion": "2024-08-01", "name": name, "location": "[parameters('location')]",
            "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"},
            "properties": {"version": "16", "storage": {"storageSizeGB": 128},
                           "network": {"publicNetworkAccess": "Disabled" if i % 4 else "Enabled"}}})
        if room > 1:
            resources.append({
                "type": f"{FLEX}/configurations", "apiVersion": "2024-08-01",
                "name": f"{name}/require_secure_transport",
                "dependsOn": [f"[resourceId('{FLEX}', '{name}')]"],
                "properties": {"value": "[parameters('ssl')]", "source": "user-override"}})
    else:
        resources.append({
            "type": SINGLE, "apiVersion": "2017-12-01", "name": f"pg-single-{i:06d}",
            "location": "[parameters('location')]",
            "sku": {"name": "GP_Gen5_2", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2},
            "properties": {"version": "11", "sslEnforcement": "Enabled" if i % 3 else "Disabled",
                           "minimalTlsVersion": "TLS1_2", "publicNetworkAccess": "Disabled"}})
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0",
            "parameters": {"location": {"type": "string", "defaultValue": "westeurope"},
                           "ssl": {"type": "string", "defaultValue": "on" if i % 3 else "off"}},
            "resources": resources}


def estate(resources: int) -> Path:
    """The directory of N resources, generated unless it is already there, whole."""
    where = OUT / f"arm-estate-{resources}"
    done = where / ".complete"
    if done.exists():
        return where
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    made = i = 0
    while made < resources:
        body = template(i, resources - made)
        (where / f"t{i:06d}.json").write_text(json.dumps(body, indent=2), encoding="utf-8")
        made += len(body["resources"])
        i += 1
    done.write_text("", encoding="utf-8")
    return where


def checkov() -> str | None:
    found = os.environ.get("CHECKOV") or shutil.which("checkov")
    return found if found and os.access(found, os.X_OK) else None


def median(argv: list[str], repeat: int, ok: tuple[int, ...]) -> float:
    return statistics.median(spawn(argv, ok_codes=ok).seconds for _ in range(repeat))


def main() -> None:
    args = bench_arguments(__doc__, "resources", [1000, 10000])
    tool = checkov()
    if tool is None:
        print("Checkov not installed (set CHECKOV=/path/to/checkov or put it on PATH): "
              "policyengine and the floor only")
    print(f"{'resources':>9} {'files':>6} {'floor s':>8} {'scan s':>8} {'checkov s':>9} "
          f"{'ratio':>7} {'goal':>6} {'long':>6} {'floor ratio':>11}")
    for n in args.resources:
        where = estate(n)
        files = sum(1 for _ in where.glob("*.json"))
        floor = median([sys.executable, "-c", FLOOR, str(where)], args.repeat, (0,))
        scan = median([sys.executable, "-m", "policyengine", "scan", str(where), "--format", "json"],
                      args.repeat, (0, 1))
        if tool is None:
            print(f"{n:>9} {files:>6} {floor:>8.3f} {scan:>8.3f} {'-':>9} {'-':>7} {GOAL:>6} "
                  f"{LONG_TERM:>6} {'-':>11}")
            continue
        theirs = median([tool, "-d", str(where), "--framework", "arm", "--quiet", "--compact"],
                        args.repeat, (0, 1))
        ratio = scan / theirs
        verdict = "met" if ratio <= GOAL else "NOT met"
        print(f"{n:>9} {files:>6} {floor:>8.3f} {scan:>8.3f} {theirs:>9.2f} {ratio:>7.3f} {GOAL:>6} "
              f"{LONG_TERM:>6} {floor / theirs:>11.4f}  goal {verdict}")
        if ratio > GOAL:
            print(f"{'':>9} a goal not met: what was tried and the next step are in docs/performance.md")


if __name__ == "__main__":
    main()
