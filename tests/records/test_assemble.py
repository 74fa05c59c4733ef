"""Attaching rows into records, in any order (buffered) or parent-first (streaming)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from policyengine.records.assemble import PARENT_FIRST, Stats, Wanted, assemble
from policyengine.records.model import Record, parent_id, subscription_of, type_from_id
from policyengine.sources.export import Input, Row
from policyengine.status import Unit

FLEX = "microsoft.dbforpostgresql/flexibleservers"
CONF = FLEX + "/configurations"
RST = (CONF, "require_secure_transport")
PLAN = ("microsoft.security/pricings", "opensourcerelationaldatabases")
WANTED = Wanted(frozenset({FLEX, "microsoft.resources/subscriptions"}), frozenset({RST}), frozenset({PLAN}))


def server(sub: str, name: str) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}",
            "type": FLEX, "name": name}


def config(sub: str, server_name: str, name: str, value: str, *, upper: bool = False) -> dict[str, Any]:
    sid = server(sub, server_name)["id"] + f"/configurations/{name}"
    return {"id": sid.upper() if upper else sid, "name": name,
            "type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations", "properties": {"value": value}}


def pricing(sub: str, tier: str, name: str = "OpenSourceRelationalDatabases") -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/{name}",
            "type": "microsoft.security/pricings", "name": name, "properties": {"pricingTier": tier}}


def inp(rows: list[dict[str, Any]], header: dict[str, Any] | None = None, name: str = "in.json") -> Input:
    return Input(name, header or {}, iter(Row(r, i + 1) for i, r in enumerate(rows)))


def run(*inputs: Input) -> tuple[list[Record], Stats]:
    stats = Stats()
    return list(assemble(list(inputs), WANTED, stats)), stats


def test_children_attach_in_any_order_and_any_case() -> None:
    rows = [config("s1", "b", "require_secure_transport", "off", upper=True), server("s1", "a"),
            config("s1", "a", "require_secure_transport", "on"), server("s1", "B"),
            config("s1", "a", "log_connections", "on"), pricing("s1", "Standard")]
    records, stats = run(inp(rows))
    servers = [r for r in records if r.type == FLEX]
    assert [r.data["name"] for r in servers] == ["a", "B"]  # sorted by id, case-insensitively
    assert servers[0].children[RST] == rows[2]
    assert servers[1].children[RST] == rows[0]
    assert servers[0].subscription is not None
    assert servers[0].subscription.children[PLAN] == rows[5]
    assert stats.ignored[CONF] == 1  # log_connections: no rule reads it
    assert stats.orphans == 0


def test_every_subscription_seen_gets_a_record() -> None:
    sub_row = {"id": "/subscriptions/s2", "type": "microsoft.resources/subscriptions", "name": "Prod"}
    rows = [server("s1", "a"), sub_row, pricing("s2", "Free"), pricing("s2", "Standard", "VirtualMachines")]
    records, stats = run(inp(rows))
    subs = {r.id: r for r in records if r.type == "Microsoft.Resources/subscriptions"}
    assert set(subs) == {"/subscriptions/s1", "/subscriptions/s2"}
    assert subs["/subscriptions/s1"].children == {}
    assert subs["/subscriptions/s1"].origin.file.startswith("(inferred")
    assert subs["/subscriptions/s2"].data == sub_row
    assert subs["/subscriptions/s2"].children[PLAN] == rows[2]
    assert stats.ignored["microsoft.security/pricings"] == 1


def test_pricing_in_one_file_applies_to_servers_in_another() -> None:
    records, _ = run(inp([server("s1", "a")], name="servers.json"), inp([pricing("s1", "Standard")], name="p.json"))
    (srv,) = [r for r in records if r.type == FLEX]
    assert srv.subscription is not None
    assert PLAN in srv.subscription.children


def test_orphans_and_unrelated_types_are_reported_not_dropped() -> None:
    rows = [server("s1", "a"), config("s1", "ghost", "require_secure_transport", "on"),
            {"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"}]
    _, stats = run(inp(rows))
    assert stats.orphans == 1
    assert stats.notes == ["in.json:2: microsoft.dbforpostgresql/flexibleservers/configurations row "
                           "'require_secure_transport' has no parent " + server("s1", "ghost")["id"].lower()
                           + " in the input"]
    assert stats.ignored["microsoft.storage/storageaccounts"] == 1  # type inferred from the id
    assert stats.rows == 3


def test_duplicate_rows_are_noted() -> None:
    records, stats = run(inp([server("s1", "a"), dict(server("s1", "a"), name="again")]))
    (srv,) = [r for r in records if r.type == FLEX]
    assert srv.data["name"] == "again"
    assert stats.resources[FLEX] == 1
    assert "duplicate row" in stats.notes[0] and stats.notes[0].startswith("in.json:2:")


HEADER = {"order": PARENT_FIRST}


def test_streaming_yields_each_server_before_reading_on() -> None:
    consumed: list[int] = []

    def rows() -> Iterator[Row]:
        data = [pricing("s1", "Standard"), server("s1", "a"), config("s1", "a", "require_secure_transport", "on"),
                server("s1", "b"), config("s1", "b", "require_secure_transport", "off")]
        for i, row in enumerate(data):
            consumed.append(i)
            yield Row(row, i + 1)

    stream = assemble([Input("snap.ndjson", HEADER, rows())], WANTED)
    first = next(stream)
    assert first.data["name"] == "a"
    assert first.children[RST] == config("s1", "a", "require_secure_transport", "on")
    assert consumed == [0, 1, 2, 3]  # b has been read, its children not yet
    assert first.subscription is not None and PLAN in first.subscription.children
    rest = list(stream)
    assert [r.data.get("name") for r in rest] == ["b", "s1"]


def test_streaming_rejects_subscription_data_after_resources_that_read_it() -> None:
    rows = [server("s1", "a"), server("s1", "b"), pricing("s1", "Standard")]
    stats = Stats()
    records = list(assemble([inp(rows, HEADER, "snap.ndjson")], WANTED, stats))
    assert [r.data.get("name") for r in records] == ["a", "b", "s1"]  # judged as they are
    (problem,) = stats.errors
    assert problem.unit is Unit.ROW
    assert problem.text().startswith(
        f"snap.ndjson:3: subscription-level row for subscription s1 comes after {FLEX} resources")


def test_streaming_takes_late_subscription_data_no_built_record_reads() -> None:
    single = "microsoft.dbforpostgresql/servers"
    wanted = Wanted(WANTED.targets | {single}, WANTED.children, WANTED.subscription_children, {},
                    {FLEX: frozenset(), single: frozenset({PLAN})})
    late = dict(server("s1", "z"), type=single, id=server("s1", "z")["id"].replace("flexibleServers", "servers"))
    rows = [server("s1", "a"), server("s1", "b"), pricing("s1", "Standard"), late]
    records = list(assemble([inp(rows, HEADER, "snap.ndjson")], wanted))
    by_name = {r.data.get("name"): r for r in records}
    assert by_name["a"].subscription is not None and PLAN not in by_name["a"].subscription.children
    assert by_name["z"].subscription is not None and PLAN in by_name["z"].subscription.children


def test_streaming_notes_children_out_of_place() -> None:
    rows = [server("s1", "a"), server("s1", "b"), config("s1", "a", "require_secure_transport", "on")]
    stats = Stats()
    records = list(assemble([inp(rows, HEADER, "snap.ndjson")], WANTED, stats))
    assert all(RST not in r.children for r in records)
    assert stats.orphans == 1
    assert "does not come right before it" in stats.notes[0]


@pytest.mark.parametrize(
    ("rid", "rtype"),
    [
        ("/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers/a",
         "Microsoft.DBforPostgreSQL/flexibleServers"),
        ("/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers/a/configurations/b",
         "Microsoft.DBforPostgreSQL/flexibleServers/configurations"),
        ("/subscriptions/s/providers/Microsoft.Security/pricings/X", "Microsoft.Security/pricings"),
        ("/subscriptions/s", "Microsoft.Resources/subscriptions"),
        ("/subscriptions/s/resourceGroups/g", "Microsoft.Resources/resourceGroups"),
        ("/subscriptions/s/resourceGroups/g/providers/Microsoft.X", None),
        ("/nonsense", None),
    ],
)
def test_type_from_id(rid: str, rtype: str | None) -> None:
    assert type_from_id(rid) == rtype


def test_id_helpers() -> None:
    assert parent_id("/a/b/c/d/e") == "/a/b/c"
    assert subscription_of("/subscriptions/abc/resourceGroups/x") == "abc"
    assert subscription_of("/providers/Microsoft.Management/managementGroups/x") is None


def test_buffered_records_keep_only_what_rules_read() -> None:
    from policyengine.paths import add_to_projection

    tree: dict[str, Any] = {"id": None, "type": None, "name": None}
    add_to_projection(tree, ("properties", "state"))
    add_to_projection(tree, ("properties", "network", "publicNetworkAccess"))
    add_to_projection(tree, ("tags",))
    wanted = Wanted(WANTED.targets, WANTED.children, WANTED.subscription_children, {FLEX: tree})
    row = dict(server("s1", "a"), location="westeurope", tags={"env": "prod"},
               properties={"State": "Ready", "version": "16", "network": {"publicNetworkAccess": "Enabled",
                                                                          "delegatedSubnetResourceId": "x"}})
    (srv, _) = list(assemble([inp([row])], wanted))
    assert srv.data == {"id": row["id"], "type": FLEX, "name": "a", "tags": {"env": "prod"},
                        "properties": {"State": "Ready", "network": {"publicNetworkAccess": "Enabled"}}}
    (streamed, _) = list(assemble([inp([row], HEADER)], wanted))
    assert streamed.data == row  # streaming keeps rows as they are: they are not held
