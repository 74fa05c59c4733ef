"""Every resource of a type, live: a server's firewall rules and a subscription's security
contacts (docs/authoring.md, "related"). A firewall-rule listing that ARM answers makes the list
known, even when empty; security contacts Resource Graph does not return are listed from ARM,
once per subscription, and none at all is Defender for Cloud's default (the owners, mailed about
high-severity alerts), said in the evidence; a listing Azure denies leaves the rules unknown and
the scan incomplete, with the role to ask for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.azurefake.server import FakeAzure, Fault
from tests.live.conftest import EXAMPLE_ROWS, FLEX, Cli, live, verdicts

Env = Callable[..., FakeAzure]
PROD = "8c3f2a91-5d4e-4b7a-9e21-6f0c3d8a7b12"
CRM = "d5a09e37-6c2b-48f1-a7e4-0b9c2f8d1e53"
CONTACTS = r"/providers/Microsoft\.Security/securityContacts$"


def _without(fake: FakeAzure, subscription: str) -> None:
    """Neither Resource Graph nor ARM has a security contact for the subscription."""
    prefix = f"/subscriptions/{subscription}/providers/microsoft.security/securitycontacts/"
    fake.estate.tables["securityresources"] = [r for r in fake.estate.tables["securityresources"]
                                               if not str(r["id"]).lower().startswith(prefix)]
    fake.estate.arm_resources = {k: v for k, v in fake.estate.arm_resources.items() if not k.startswith(prefix)}


def test_contacts_in_resource_graph_are_not_read_again(cli: Cli, azure_env: Env) -> None:
    fake = azure_env()
    result, report = live(cli)
    assert report["scan"]["complete"] is True, result.err
    assert fake.count("GET", CONTACTS) == 0
    assert verdicts(report)[("PG-SUB-002", f"/subscriptions/{PROD}")] == "fail"  # nobody is mailed
    assert verdicts(report)[("PG-SUB-002", f"/subscriptions/{CRM}")] == "pass"


def test_contacts_hidden_from_resource_graph_are_listed_from_arm(cli: Cli, azure_env: Env) -> None:
    fake = azure_env()
    fake.estate.hide_from_graph(CRM)
    result, report = live(cli)
    assert report["scan"]["complete"] is True, result.err
    assert verdicts(report)[("PG-SUB-002", f"/subscriptions/{CRM}")] == "pass"
    assert fake.count("GET", f"/subscriptions/{CRM}{CONTACTS}") == 1  # once, for three servers


def test_no_contact_anywhere_is_the_owners_high_default_with_a_note(cli: Cli, azure_env: Env) -> None:
    fake = azure_env()
    _without(fake, CRM)
    result, report = live(cli)
    assert report["scan"]["complete"] is True, result.err
    subscription = f"/subscriptions/{CRM}"
    finding = next(f for f in report["findings"]
                   if f["rule"]["id"] == "PG-SUB-002" and f["resource"]["id"].lower() == subscription)
    assert finding["verdict"] == "fail"
    (evidence,) = finding["evidence"]
    assert "the platform default was assumed (subscription owners are mailed about high-severity alerts)" \
        in evidence["note"]
    assert evidence["actual"][0]["properties"]["notificationsSources"] == [
        {"sourceType": "Alert", "minimalSeverity": "High"}]
    assert finding["fix"].startswith("az security contact update --name default --subscription " + CRM)
    # The server with threat protection on now has alerts that reach nobody below High.
    crm_prod = next(r["id"].lower() for r in EXAMPLE_ROWS if r["name"] == "pg-crm-prod-01")
    assert verdicts(report)[("PG-FLEX-017", crm_prod)] == "fail"


def test_a_denied_contact_listing_is_unknown_and_the_scan_incomplete(cli: Cli, azure_env: Env) -> None:
    fake = azure_env(faults=[Fault("GET", CONTACTS, 403, body=json.dumps(
        {"error": {"code": "AuthorizationFailed", "message": "no read on securityContacts"}}))])
    fake.estate.hide_from_graph(CRM)
    result, report = live(cli)
    assert result.code == 3, result.err
    assert report["scan"]["complete"] is False
    assert verdicts(report)[("PG-SUB-002", f"/subscriptions/{CRM}")] == "unknown"
    (denied,) = report["scan"]["denied"]
    assert denied["what"] == "securityContacts (every one)" and denied["role"] == "Security Reader"


def test_a_server_without_firewall_rules_is_judged_by_its_empty_listing(cli: Cli, azure_env: Env,
                                                                       tmp_path: Path) -> None:
    fake = azure_env()
    server = next(r for r in EXAMPLE_ROWS if r["name"] == "pg-sandbox-dev-01")
    fake.estate.children[server["id"].lower()] = [c for c in fake.estate.children[server["id"].lower()]
                                                 if "/firewallrules/" not in c["id"].lower()]
    result, report = live(cli)
    assert report["scan"]["complete"] is True, result.err
    assert verdicts(report)[("PG-FLEX-011", server["id"].lower())] == "pass"
    # The same scan offline, from a snapshot: the listing is kept with the server row.
    snapshot = tmp_path / "snapshot.ndjson"
    collected = cli("collect", "--azure", "-o", str(snapshot))
    assert collected.code == 0, collected.err
    rows = [json.loads(line) for line in snapshot.read_text("utf-8").splitlines() if line.strip()]
    (row,) = [r for r in rows if str(r.get("id", "")).lower() == server["id"].lower()]
    assert "microsoft.dbforpostgresql/flexibleservers/firewallrules" in row["$policyengine"]["listed"]
    replayed = json.loads(cli("scan", str(snapshot), "--format", "json", "--quiet").out)
    assert verdicts(replayed)[("PG-FLEX-011", server["id"].lower())] == "pass"


def test_a_denied_firewall_listing_is_unknown_for_that_server_only(cli: Cli, azure_env: Env) -> None:
    victim = next(r for r in EXAMPLE_ROWS if r["name"] == "pg-wiki-01")
    fake = azure_env(faults=[Fault("GET", f"{victim['id']}/firewallRules$", 403, body=json.dumps(
        {"error": {"code": "AuthorizationFailed", "message": "no read on firewallRules"}}))])
    result, report = live(cli)
    assert result.code == 3
    found = verdicts(report)
    assert found[("PG-FLEX-010", victim["id"].lower())] == "unknown"
    others = [r for r in EXAMPLE_ROWS if r["type"].lower() == FLEX and r["name"] == "pg-crm-reporting-01"]
    assert found[("PG-FLEX-010", others[0]["id"].lower())] == "fail"
    assert fake.count("GET", "/firewallRules$") >= 2
