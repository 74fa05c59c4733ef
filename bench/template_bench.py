"""Time pre-deployment scans of large templates and plans, and report their peak memory.

    python bench/template_bench.py [--servers 800 4000] [--repeat 3]

For each N, two inputs are generated into ``bench/out/`` (gitignored):

* an ARM template with N flexible servers in copy loops of at most 800 (ARM's limit), each
  server with two server parameters in their own copy loops, names built with ``format`` and
  ``copyIndex``, values from parameters and variables, and ATP settings nested under the
  servers of a second loop — what a platform team's estate template looks like;
* a ``terraform show -json`` plan with N ``azurerm_postgresql_flexible_server`` and 2N
  ``azurerm_postgresql_flexible_server_configuration`` resources whose ``server_id`` is known
  only after apply (joined through the configuration's references).

Each scan runs as ``python -m policyengine scan FILE --format json`` in a child process,
reaped with :func:`os.wait4` for its own peak RSS; the best wall time of ``--repeat`` runs
is printed with the number of findings, which must be four per server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compiled import bench_arguments
from bench.scan_bench import spawn

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"
PROVIDER = "registry.terraform.io/hashicorp/azurerm"


def arm_template(servers: int) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for start in range(0, servers, 800):
        count = min(800, servers - start)
        loop = f"batch{start // 800}"
        name = f"[format('pg-{{0:D6}}', add(copyIndex('{loop}'), {start}))]"
        resources.append({
            "copy": {"name": loop, "count": count}, "type": FLEX, "apiVersion": "2024-08-01", "name": name,
            "location": "[parameters('location')]",
            "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"},
            "properties": {"version": "16", "storage": {"storageSizeGB": 128}},
            "resources": [{"type": "advancedThreatProtectionSettings", "apiVersion": "2024-08-01",
                           "name": "Default", "properties": {"state": "[variables('atp')]"}}],
        })
        for setting, value in (("require_secure_transport", "[parameters('ssl')]"),
                               ("ssl_min_protocol_version", "[variables('tls')[mod(copyIndex(), 2)]]")):
            resources.append({
                "copy": {"name": f"{loop}-{setting}", "count": count}, "type": f"{FLEX}/configurations",
                "apiVersion": "2024-08-01",
                "name": f"[format('pg-{{0:D6}}/{setting}', add(copyIndex(), {start}))]",
                "properties": {"value": value, "source": "user-override"},
            })
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0",
            "parameters": {"location": {"type": "string", "defaultValue": "westeurope"},
                           "ssl": {"type": "string", "defaultValue": "on"}},
            "variables": {"atp": "Enabled", "tls": ["TLSv1.2", "TLSv1.1"]},
            "resources": resources}


def terraform_plan(servers: int) -> dict[str, Any]:
    changes: list[dict[str, Any]] = []
    config: list[dict[str, Any]] = []
    planned: list[dict[str, Any]] = []
    for i in range(servers):
        server = f"s{i}"
        address = f"azurerm_postgresql_flexible_server.{server}"
        after = {"name": f"pg-tf-{i:06d}", "resource_group_name": "rg-bench", "location": "westeurope",
                 "version": "16", "sku_name": "GP_Standard_D2ds_v5", "public_network_access_enabled": False}
        changes.append(_change(address, "azurerm_postgresql_flexible_server", server, after, {"id": True}))
        planned.append(_planned(address, "azurerm_postgresql_flexible_server", server, after))
        config.append({"address": address, "mode": "managed", "type": "azurerm_postgresql_flexible_server",
                       "name": server, "provider_config_key": "azurerm", "expressions": {}})
        for setting, value in (("require_secure_transport", "on"), ("ssl_min_protocol_version", "TLSv1.2")):
            name = f"{server}_{setting}"
            caddress = f"azurerm_postgresql_flexible_server_configuration.{name}"
            cafter = {"name": setting, "value": value}
            changes.append(_change(caddress, "azurerm_postgresql_flexible_server_configuration", name, cafter,
                                   {"id": True, "server_id": True}))
            planned.append(_planned(caddress, "azurerm_postgresql_flexible_server_configuration", name,
                                    cafter))
            config.append({"address": caddress, "mode": "managed",
                           "type": "azurerm_postgresql_flexible_server_configuration", "name": name,
                           "provider_config_key": "azurerm",
                           "expressions": {"server_id": {"references": [f"{address}.id", address]}}})
    return {"format_version": "1.2", "terraform_version": "1.9.5",
            "planned_values": {"root_module": {"resources": planned}},
            "resource_changes": changes,
            "configuration": {"provider_config": {"azurerm": {"name": "azurerm", "full_name": PROVIDER}},
                              "root_module": {"resources": config}}}


def _change(address: str, rtype: str, name: str, after: dict[str, Any],
            unknown: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": rtype, "name": name, "provider_name": PROVIDER,
            "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown,
                       "before_sensitive": False, "after_sensitive": {}}}


def _planned(address: str, rtype: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": rtype, "name": name,
            "provider_name": PROVIDER, "schema_version": 0, "values": values}


def run(path: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and findings of one scan in a child process (forked and
    exec'd by scan_bench.spawn, so the peak is the child's own)."""
    report = OUT / "template-report.json"
    done = spawn([sys.executable, "-m", "policyengine", "scan", str(path), "--format", "json"],
                 ok_codes=(0, 1), stdout=str(report))
    findings = len(json.loads(report.read_text(encoding="utf-8"))["findings"])
    return done.seconds, done.rss_mb, findings


def main() -> None:
    args = bench_arguments(__doc__, "servers", [800, 4000])
    print(f"{'input':<28} {'servers':>8} {'size MB':>8} {'best s':>8} {'peak MB':>8} {'findings':>9}")
    for n in args.servers:
        for kind, build in (("ARM template", arm_template), ("Terraform plan", terraform_plan)):
            path = OUT / f"{kind.split()[0].lower()}-{n}.json"
            path.write_text(json.dumps(build(n), indent=1), encoding="utf-8")
            runs = [run(path) for _ in range(args.repeat)]
            best = min(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            findings = runs[0][2]
            assert findings == 4 * n, f"{kind}: {findings} findings for {n} servers"
            size = path.stat().st_size / 1e6
            print(f"{kind:<28} {n:>8} {size:>8.2f} {best:>8.2f} {peak:>8.0f} {findings:>9}")


if __name__ == "__main__":
    main()
