"""Generate a deterministic synthetic estate of Azure Database for PostgreSQL servers as NDJSON.

    python bench/gen_estate.py N OUT.ndjson [--seed S] [--subscriptions K] [--shuffle | --plain]

The file holds the rows a snapshot of a real tenant would hold, in the shapes Azure returns:

* one ``microsoft.resources/subscriptions`` row per subscription (the ARG ``resourcecontainers``
  table) and its ``Microsoft.Security/pricings`` rows (the ARG ``securityresources`` table):
  ``OpenSourceRelationalDatabases`` on ``Standard`` or ``Free`` (a few subscriptions have none)
  and a ``VirtualMachines`` plan that no PostgreSQL rule reads;
* N servers in the ARG ``resources`` shape (lower-case ``type``, ~1.5 KB each): about 95 %
  flexible servers (``Microsoft.DBforPostgreSQL/flexibleServers``), each followed by its
  children in the ARM REST shape: the ``configurations`` rows ``require_secure_transport``,
  ``ssl_min_protocol_version`` and four parameters no rule reads, and
  ``advancedThreatProtectionSettings/Default``; about 5 % retired single servers
  (``Microsoft.DBforPostgreSQL/servers``) followed by ``securityAlertPolicies/Default``.

Values vary so that every verdict occurs: ``require_secure_transport`` ``off``, TLS 1.1, 1.2 and
1.3 (in Azure's casing and in others: Azure compares case-insensitively), ATP and alert
policies ``Disabled``, servers being dropped (not applicable), servers whose children are
missing (a refused ARM GET: unknown), Basic tier single servers (no threat protection: not
applicable), alert policies that mail nobody or disable alert types, subscriptions without
the plan, and a handful of corrupt values of the wrong JSON type (error).

Without ``--shuffle`` the first line is the policyengine snapshot header declaring
``order: parent-first`` and rows come parent first, so a scan streams. With ``--shuffle`` the
same rows come in a random order and without the header. With ``--plain`` they come parent
first without the header, as ``az graph query`` or any other tool writes NDJSON: a scan finds
the order itself.

Next to OUT the generator writes ``OUT.manifest.json``: the parameters, the number of rows and
the number of resources of each (lower-case) type, which ``scan_bench.py`` uses to check that a
report holds exactly one finding per resource and applicable rule.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HEADER = {"$policyengine": {"kind": "snapshot", "version": 1, "order": "parent-first"}}

SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"  # ARG resourcecontainers casing
PRICING_TYPE = "microsoft.security/pricings"  # ARG securityresources casing
FLEX_TYPE = "microsoft.dbforpostgresql/flexibleservers"  # ARG resources casing
SINGLE_TYPE = "microsoft.dbforpostgresql/servers"
# ARM REST answers (what ARG cannot see) carry the canonical casing.
CONFIG_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers/configurations"
ATP_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings"
ALERT_TYPE = "Microsoft.DBforPostgreSQL/servers/securityAlertPolicies"

LOCATIONS = ("westeurope", "northeurope", "eastus", "eastus2", "uksouth", "swedencentral",
             "germanywestcentral", "francecentral", "westus3", "australiaeast")
APPS = ("billing", "orders", "catalog", "identity", "payments", "search", "inventory",
        "reporting", "ledger", "telemetry", "crm", "pricing")
ENVS = ("prod", "staging", "dev", "test")
TEAMS = ("platform", "data", "commerce", "finance", "security", "retail")
FLEX_SKUS = (("Standard_B1ms", "Burstable"), ("Standard_B2s", "Burstable"),
             ("Standard_D2ds_v5", "GeneralPurpose"), ("Standard_D4ds_v5", "GeneralPurpose"),
             ("Standard_D8ds_v5", "GeneralPurpose"), ("Standard_E4ds_v5", "MemoryOptimized"),
             ("Standard_E16ds_v5", "MemoryOptimized"))
STORAGE = ((32, "P4", 120), (64, "P6", 240), (128, "P10", 500), (256, "P15", 1100),
           (512, "P20", 2300), (1024, "P30", 5000))
PG_VERSIONS = (("13", "20"), ("14", "17"), ("15", "12"), ("16", "8"), ("17", "4"))
FLEX_STATES = (("Ready", 880), ("Stopped", 60), ("Dropping", 20), ("Updating", 20),
               ("Starting", 10), ("Disabled", 10))
SECURE_TRANSPORT = (("on", 760), ("ON", 40), ("off", 180), ("OFF", 20))
MIN_TLS = (("TLSv1.2", 640), ("TLSV1.2", 30), ("TLSv1.3", 250), ("tlsv1.3", 20),
           ("TLSv1.1", 40), ("TLSv1", 20))
ATP_STATES = (("Enabled", 50), ("Disabled", 50))
SSL_ENFORCEMENT = (("Enabled", 80), ("Disabled", 20))
SINGLE_TLS = (("TLS1_2", 60), ("TLS1_1", 10), ("TLS1_0", 10), ("TLSEnforcementDisabled", 20))

DOCS = "https://www.postgresql.org/docs/{major}/runtime-config-{page}.html"

# name, dataType, allowedValues, defaultValue, description, documentation page
SECURE_TRANSPORT_PARAM = (
    "require_secure_transport", "Boolean", "on,off", "on",
    "Whether client connections to the server are required to use some form of secure transport.",
    "connection")
MIN_TLS_PARAM = (
    "ssl_min_protocol_version", "Enumeration", "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3", "TLSv1.2",
    "Sets the minimum SSL/TLS protocol version to use.", "connection")
UNRELATED_PARAMS = (
    ("log_connections", "Boolean", "on,off", "on",
     "Causes each attempted connection to the server to be logged, as well as successful "
     "completion of client authentication.", "logging", ("on", "off")),
    ("max_connections", "Integer", "25-5000", "859",
     "Sets the maximum number of concurrent connections to the database server.", "connection",
     ("859", "1718", "5000", "200")),
    ("shared_buffers", "Integer", "16-1073741823", "131072",
     "Sets the number of shared memory buffers used by the server. Unit is 8kb. Allowed "
     "values are inside the range of 10% - 75% of available memory.", "resource",
     ("131072", "262144", "524288")),
    ("work_mem", "Integer", "4096-2097151", "4096",
     "Sets the amount of memory to be used by internal sort operations and hash tables before "
     "writing to temporary disk files.", "resource", ("4096", "8192", "16384", "65536")),
)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    values = [v for v, _ in weighted]
    weights = [w for _, w in weighted]
    return rng.choices(values, weights)[0]


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _timestamp(rng: random.Random, year_from: int = 2021) -> str:
    return (f"{rng.randint(year_from, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
            f"{rng.randint(0, 9999999):07d}+00:00")


def _arg_envelope(rid: str, name: str, rtype: str, sid: str, tenant: str, *,
                  location: str = "", group: str = "") -> dict[str, Any]:
    """The columns every row of an ARG table has, in ARG's order."""
    return {"id": rid, "name": name, "type": rtype, "tenantId": tenant, "kind": "",
            "location": location, "resourceGroup": group, "subscriptionId": sid, "managedBy": "",
            "sku": None, "plan": None, "properties": {}, "tags": None, "identity": None,
            "zones": None, "extendedLocation": None}


class Estate:
    """The rows of one synthetic estate, parent first, and what they hold."""

    def __init__(self, n: int, seed: int, subscriptions: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.tenant = _guid(self.rng)
        self.subscriptions = [(_guid(self.rng), j) for j in range(subscriptions)]
        self.groups = {sid: [f"rg-{self.rng.choice(APPS)}-{self.rng.choice(ENVS)}-{g:02d}"
                             for g in range(self.rng.randint(2, 6))]
                       for sid, _ in self.subscriptions}
        self.counts: Counter[str] = Counter()
        self.rows = 0

    # -- subscription scope ------------------------------------------------------------------
    def subscription_rows(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for sid, j in self.subscriptions:
            team, env = TEAMS[j % len(TEAMS)], ENVS[j % len(ENVS)]
            row = _arg_envelope(f"/subscriptions/{sid}", f"sub-{team}-{env}-{j:04d}",
                                SUBSCRIPTION_TYPE, sid, self.tenant)
            row["properties"] = {
                "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                         "quotaId": "EnterpriseAgreement_2014-09-01",
                                         "spendingLimit": "Off"},
                "managementGroupAncestorsChain": [
                    {"displayName": env.capitalize(), "name": f"mg-{env}"},
                    {"displayName": "Tenant Root Group", "name": self.tenant},
                ],
            }
            row["tags"] = {"team": team, "env": env, "cost-center": f"CC-{1000 + j % 97}"}
            yield row
            # j == 1: a subscription with no OpenSourceRelationalDatabases pricing row at all.
            if j != 1 and (j % 10 != 9):
                standard = j == 0 or rng.random() < 0.6
                props: dict[str, Any] = {"pricingTier": "Standard" if standard else "Free",
                                         "freeTrialRemainingTime": "PT0S" if standard else "P30D"}
                if standard:
                    props["enablementTime"] = _timestamp(rng)
                yield self._pricing(sid, "OpenSourceRelationalDatabases", props)
            yield self._pricing(sid, "VirtualMachines", {
                "pricingTier": "Standard", "subPlan": rng.choice(("P1", "P2")),
                "freeTrialRemainingTime": "PT0S", "enablementTime": _timestamp(rng),
                "extensions": [{"name": "MdeDesignatedSubscription", "isEnabled": "False"},
                               {"name": "AgentlessVmScanning", "isEnabled": "True",
                                "additionalExtensionProperties": {"ExclusionTags": "[]"}}],
            })

    def _pricing(self, sid: str, plan: str, props: dict[str, Any]) -> dict[str, Any]:
        row = _arg_envelope(f"/subscriptions/{sid}/providers/Microsoft.Security/pricings/{plan}",
                            plan, PRICING_TYPE, sid, self.tenant)
        row["properties"] = props
        return row

    # -- servers -----------------------------------------------------------------------------
    def server_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            sid, _ = self.rng.choice(self.subscriptions)
            group = self.rng.choice(self.groups[sid])
            if i % 20 == 13:  # 5 % retired single servers
                yield from self._single(i, sid, group)
            else:
                yield from self._flexible(i, sid, group)

    def _flexible(self, i: int, sid: str, group: str) -> Iterator[dict[str, Any]]:
        rng = self.rng
        app, env = rng.choice(APPS), rng.choice(ENVS)
        name = f"psql-{app}-{env}-{i:06d}"
        rid = (f"/subscriptions/{sid}/resourceGroups/{group}/providers/"
               f"Microsoft.DBforPostgreSQL/flexibleServers/{name}")
        location = rng.choice(LOCATIONS)
        sku, tier = rng.choice(FLEX_SKUS)
        size, storage_tier, iops = rng.choice(STORAGE)
        major, minor = rng.choice(PG_VERSIONS)
        ha = tier != "Burstable" and rng.random() < 0.4
        zone = rng.choice(("1", "2", "3"))
        private = rng.random() < 0.6
        network: dict[str, Any] = {"publicNetworkAccess": "Disabled" if private else "Enabled"}
        if private:
            vnet = (f"/subscriptions/{sid}/resourceGroups/rg-network-{env}/providers/"
                    f"Microsoft.Network/virtualNetworks/vnet-{env}-{location}")
            network["delegatedSubnetResourceId"] = f"{vnet}/subnets/snet-postgres"
            network["privateDnsZoneArmResourceId"] = (
                f"/subscriptions/{sid}/resourceGroups/rg-network-{env}/providers/Microsoft.Network/"
                f"privateDnsZones/{env}.private.postgres.database.azure.com")
        row = _arg_envelope(rid, name, FLEX_TYPE, sid, self.tenant,
                            location=location, group=group)
        row["sku"] = {"name": sku, "tier": tier}
        row["properties"] = {
            "administratorLogin": "pgadmin",
            "version": major,
            "minorVersion": minor,
            "state": _pick(rng, FLEX_STATES),
            "fullyQualifiedDomainName": f"{name}.postgres.database.azure.com",
            "storage": {"storageSizeGB": size, "autoGrow": rng.choice(("Enabled", "Disabled")),
                        "tier": storage_tier, "iops": iops, "type": ""},
            "authConfig": {"activeDirectoryAuth": rng.choice(("Enabled", "Disabled")),
                           "passwordAuth": rng.choice(("Enabled", "Enabled", "Disabled")),
                           "tenantId": self.tenant},
            "dataEncryption": {"type": "SystemManaged"},
            "backup": {"backupRetentionDays": rng.choice((7, 14, 35)),
                       "geoRedundantBackup": rng.choice(("Enabled", "Disabled")),
                       "earliestRestoreDate": _timestamp(rng, 2025)},
            "network": network,
            "highAvailability": {"mode": "ZoneRedundant" if ha else "Disabled",
                                 "state": "Healthy" if ha else "NotEnabled",
                                 **({"standbyAvailabilityZone": str(int(zone) % 3 + 1)} if ha else {})},
            "maintenanceWindow": {"customWindow": "Enabled", "dayOfWeek": rng.randint(0, 6),
                                  "startHour": rng.randint(0, 23), "startMinute": 0},
            "replicationRole": "Primary",
            "replicaCapacity": 5,
            "replica": {"role": "Primary", "capacity": 5, "replicationState": None},
            "availabilityZone": zone,
            "privateEndpointConnections": [],
        }
        row["tags"] = {"env": env, "app": app, "owner": f"{app}-team@contoso.com",
                       "cost-center": f"CC-{rng.randint(1000, 9999)}", "managed-by": "terraform"}
        yield row
        # ARM may echo the id with another casing than ARG's: attach must not care.
        parent = rid.replace("/resourceGroups/", "/resourcegroups/") if i % 7 == 3 else rid
        missing = rng.random()
        if missing < 0.015:  # the configurations list GET was refused: no parameter at all
            params: list[tuple[Any, ...]] = []
        elif missing < 0.025:  # ssl_min_protocol_version alone is absent
            params = [SECURE_TRANSPORT_PARAM, *UNRELATED_PARAMS]
        else:
            params = [SECURE_TRANSPORT_PARAM, MIN_TLS_PARAM, *UNRELATED_PARAMS]
        corrupt = i % 1000 == 999  # a value of the wrong JSON type: the verdict is an error
        for pname, dtype, allowed, default, description, page, *choices in params:
            value: Any
            if pname == "require_secure_transport":
                value = True if corrupt else _pick(rng, SECURE_TRANSPORT)
            elif pname == "ssl_min_protocol_version":
                value = 1.2 if corrupt else _pick(rng, MIN_TLS)
            else:
                value = rng.choice(choices[0])
            yield {
                "id": f"{parent}/configurations/{pname}",
                "name": pname,
                "type": CONFIG_TYPE,
                "properties": {
                    "value": value,
                    "description": description,
                    "defaultValue": default,
                    "dataType": dtype,
                    "allowedValues": allowed,
                    "source": "system-default" if value == default else "user-override",
                    "isDynamicConfig": True,
                    "isReadOnly": False,
                    "isConfigPendingRestart": False,
                    "documentationLink": DOCS.format(major=major, page=page),
                },
            }
        if rng.random() >= 0.02:  # else the ATP GET was refused
            yield {
                "id": f"{parent}/advancedThreatProtectionSettings/Default",
                "name": "Default",
                "type": ATP_TYPE,
                "properties": {"state": True if corrupt else _pick(rng, ATP_STATES),
                               "creationTime": _timestamp(rng)},
            }

    def _single(self, i: int, sid: str, group: str) -> Iterator[dict[str, Any]]:
        rng = self.rng
        app, env = rng.choice(APPS), rng.choice(ENVS)
        name = f"pgsingle-{app}-{env}-{i:06d}"
        rid = (f"/subscriptions/{sid}/resourceGroups/{group}/providers/"
               f"Microsoft.DBforPostgreSQL/servers/{name}")
        location = rng.choice(LOCATIONS)
        cores = rng.choice((2, 4, 8))
        basic = rng.random() < 0.1  # Basic tier has no threat protection: not applicable
        row = _arg_envelope(rid, name, SINGLE_TYPE, sid, self.tenant,
                            location=location, group=group)
        row["sku"] = ({"name": "B_Gen5_1", "tier": "Basic", "family": "Gen5", "capacity": 1}
                      if basic else {"name": f"GP_Gen5_{cores}", "tier": "GeneralPurpose",
                                     "family": "Gen5", "capacity": cores})
        row["properties"] = {
            "administratorLogin": "pgadmin",
            "storageProfile": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled",
                               "storageMB": rng.choice((51200, 102400, 512000)),
                               "storageAutogrow": "Enabled"},
            "version": rng.choice(("10", "11")),
            "sslEnforcement": _pick(rng, SSL_ENFORCEMENT),
            "minimalTlsVersion": _pick(rng, SINGLE_TLS),
            "userVisibleState": "Ready",
            "fullyQualifiedDomainName": f"{name}.postgres.database.azure.com",
            "earliestRestoreDate": _timestamp(rng, 2025),
            "replicationRole": "None",
            "masterServerId": "",
            "replicaCapacity": 5,
            "publicNetworkAccess": rng.choice(("Enabled", "Disabled")),
            "infrastructureEncryption": "Disabled",
            "privateEndpointConnections": [],
        }
        corrupt = i % 1000 == 513  # values of the wrong JSON type: error verdicts
        if corrupt:
            row["properties"].update(sslEnforcement=True, minimalTlsVersion=1.2)
        elif rng.random() < 0.02:  # a trimmed export without the property: unknown
            del row["properties"]["sslEnforcement"]
        row["tags"] = {"env": env, "app": app, "owner": f"{app}-team@contoso.com",
                       "migration": "to-flexible-server"}
        yield row
        if rng.random() >= 0.05:  # else the alert policy GET was refused
            disabled: list[Any] = rng.choice(([""], [""], [""], ["Sql_Injection"],
                                              ["Access_Anomaly", "Data_Exfiltration"]))
            emails: list[Any] = rng.choice(([f"{app}-team@contoso.com"], [""],
                                            ["", "secops@contoso.com"]))
            if corrupt:
                disabled, emails = [0], [0]
            yield {
                "id": f"{rid}/securityAlertPolicies/Default",
                "name": "Default",
                "type": ALERT_TYPE,
                "properties": {"state": _pick(rng, ATP_STATES), "disabledAlerts": disabled,
                               "emailAddresses": emails,
                               "emailAccountAdmins": rng.random() < 0.3, "storageEndpoint": "",
                               "retentionDays": rng.choice((0, 30, 90))},
            }

    def lines(self) -> Iterator[str]:
        """Every row as one line of compact JSON, parent first, counting as it goes."""
        for source in (self.subscription_rows(), self.server_rows()):
            for row in source:
                self.rows += 1
                self.counts[row["type"].lower()] += 1
                yield json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n"


def generator_version() -> str:
    """A digest of this file: an estate written by another version is generated again."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def generate(n: int, out: Path, *, seed: int = 1, subscriptions: int | None = None,
             shuffle: bool = False, plain: bool = False) -> dict[str, Any]:
    """Write the estate to ``out`` (atomically) and its manifest next to it; return the manifest.
    The same N, seed and subscriptions give the same rows, shuffled or not."""
    k = subscriptions if subscriptions is not None else max(3, n // 200)
    if n < 0 or k < 1:
        raise ValueError("N must be >= 0 and there must be at least one subscription")
    estate = Estate(n, seed, k)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        if shuffle:
            lines = list(estate.lines())
            random.Random(seed + 1).shuffle(lines)
            handle.writelines(lines)
        else:
            if not plain:
                handle.write(json.dumps(HEADER, separators=(",", ":")) + "\n")
            handle.writelines(estate.lines())
    os.replace(partial, out)
    manifest = {
        "generator": generator_version(),
        "servers": n,
        "seed": seed,
        "subscriptions": k,
        "shuffled": shuffle,
        "header": not (shuffle or plain),
        "rows": estate.rows,
        "lines": estate.rows + (0 if shuffle or plain else 1),
        "bytes": out.stat().st_size,
        "types": dict(sorted(estate.counts.items())),
    }
    manifest_path(out).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("n", type=int, metavar="N", help="number of servers")
    parser.add_argument("out", type=Path, metavar="OUT.ndjson")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscriptions", type=int, metavar="K",
                        help="number of subscriptions (default N/200, at least 3)")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--shuffle", action="store_true",
                       help="rows in random order, without the snapshot header (sorted on disk)")
    order.add_argument("--plain", action="store_true",
                       help="rows parent-first without the snapshot header (streamed once the order is seen)")
    args = parser.parse_args(argv)
    try:
        manifest = generate(args.n, args.out, seed=args.seed, subscriptions=args.subscriptions,
                            shuffle=args.shuffle, plain=args.plain)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"{args.out}: {manifest['rows']} rows, {manifest['bytes'] / 1e6:.1f} MB, "
          f"{manifest['subscriptions']} subscriptions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
