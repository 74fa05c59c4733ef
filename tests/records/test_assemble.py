"""Attaching rows into records, in any order (buffered) or parent-first (streaming)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from policyengine.records.assemble import PARENT_FIRST, assemble
from policyengine.records.model import Record, id_has_type, parent_id, subscription_of, type_from_id
from policyengine.records.wanted import Wanted
from policyengine.sources.export import Input, Row, open_input
from policyengine.status import Stats, Unit

FLEX = "microsoft.dbforpostgresql/flexibleservers"
CONF = FLEX + "/configurations"
RST = (CONF, "require_secure_transport")
PLAN = ("microsoft.security/pricings", "opensourcerelationaldatabases")
WANTED = Wanted(frozenset({FLEX, "microsoft.resources/subscriptions"}), frozenset({RST}), frozenset({PLAN}))
HEADER = {"order": PARENT_FIRST}


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


def test_the_same_resource_twice_with_equal_values_is_read_once_and_noted() -> None:
    again = dict(server("s1", "a"), id=server("s1", "a")["id"].upper(), name="A")  # case aside, equal
    records, stats = run(inp([server("s1", "a"), again]))
    (srv,) = [r for r in records if r.type == FLEX]
    assert srv.origin.line == 1
    assert stats.resources[FLEX] == 1
    assert stats.errors == []
    assert stats.notes == [f"in.json:2: {again['id']} again, saying what it says at line 1 where the rules "
                           "read: read once"]


@pytest.mark.parametrize("streaming", [False, True], ids=["buffered", "streaming"])
def test_the_same_resource_twice_with_conflicting_values_is_judged_on_neither(streaming: bool) -> None:
    secure = dict(server("s1", "a"), properties={"state": "Ready", "version": "16"})
    insecure = dict(secure, id=secure["id"].upper(), properties={"state": "Ready", "version": "11"})
    rows = [secure, config("s1", "a", "require_secure_transport", "on"), insecure,
            config("s1", "a", "require_secure_transport", "on", upper=True), server("s1", "b")]
    records, stats = run(inp(rows, HEADER if streaming else None))
    assert [r.data["name"] for r in records if r.type == FLEX] == ["b"]  # neither row of a
    assert stats.resources[FLEX] == 1
    (problem,) = stats.errors
    assert problem.unit is Unit.ROW and problem.resource == insecure["id"]
    assert problem.text() == (f"in.json:3:1: {insecure['id']} is given twice with different values "
                              "(here and at line 1; ids compare without case): neither row is used, "
                              "so it is not judged on either")
    assert stats.orphans == 0  # its children go with it, not reported as orphans


def test_a_third_row_of_a_conflicting_resource_is_an_error_too() -> None:
    rows = [server("s1", "a"), dict(server("s1", "a"), name="x"), server("s1", "a")]
    records, stats = run(inp(rows))
    assert [r for r in records if r.type == FLEX] == []
    assert [(p.span.line, p.resource) for p in stats.errors] == [(2, rows[0]["id"]), (3, rows[0]["id"])]


@pytest.mark.parametrize("child_first", [False, True], ids=["parent-first", "child-first"])
def test_conflicting_children_make_the_rules_on_them_unknown_not_judged(child_first: bool) -> None:
    on = config("s1", "a", "require_secure_transport", "on")
    off = config("s1", "a", "require_secure_transport", "off", upper=True)
    rows = [on, off, server("s1", "a")] if child_first else [server("s1", "a"), on, off]
    records, stats = run(inp(rows))
    (srv,) = [r for r in records if r.type == FLEX]
    assert RST not in srv.children
    assert srv.unread[CONF].startswith(f"two rows of {off['id']} disagree")
    (problem,) = stats.errors
    line = 2 if child_first else 3
    assert problem.text().startswith(f"in.json:{line}:1: {off['id']} is given twice with different values")
    assert problem.resource == off["id"]


def test_equal_children_and_pricings_twice_are_read_once() -> None:
    rows = [server("s1", "a"), config("s1", "a", "require_secure_transport", "on"),
            config("s1", "a", "require_secure_transport", "on"), pricing("s1", "Standard"),
            pricing("s1", "Standard")]
    records, stats = run(inp(rows))
    (srv,) = [r for r in records if r.type == FLEX]
    assert srv.children[RST] == rows[1]
    assert srv.subscription is not None and srv.subscription.children[PLAN] == rows[3]
    assert stats.errors == []
    assert [n.split(": ", 1)[0] for n in stats.notes] == ["in.json:3", "in.json:5"]


def test_conflicting_pricings_leave_the_plan_unknown() -> None:
    rows = [server("s1", "a"), pricing("s1", "Standard"), pricing("s1", "Free")]
    records, stats = run(inp(rows))
    (sub,) = [r for r in records if r.type == "Microsoft.Resources/subscriptions"]
    assert PLAN not in sub.children and sub.unread[PLAN[0]].startswith("two rows of")
    assert [p.span.line for p in stats.errors] == [3]


def test_conflicting_subscription_rows_are_judged_as_inferred() -> None:
    one = {"id": "/subscriptions/s1", "type": "microsoft.resources/subscriptions", "name": "Prod"}
    other = dict(one, name="Test")
    records, stats = run(inp([one, other, one]))
    (sub,) = [r for r in records if r.type == "Microsoft.Resources/subscriptions"]
    assert sub.origin.file.startswith("(inferred")
    assert [p.span.line for p in stats.errors] == [2, 3]


@pytest.mark.parametrize(
    "given",
    ["microsoft.dbforpostgresql/flexibleservers", "Microsoft.DBforPostgreSQL/flexibleServers ",
     " MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS\t"],
    ids=["lower", "trailing-space", "upper-and-spaces"],
)
def test_type_strings_are_normalised(given: str) -> None:
    records, stats = run(inp([dict(server("s1", "a"), type=given)]))
    (srv,) = [r for r in records if r.type.lower() == FLEX]
    assert srv.type == given.strip()
    assert stats.resources[FLEX] == 1 and not stats.ignored and not stats.errors


def test_child_type_strings_are_normalised() -> None:
    child = dict(config("s1", "a", "require_secure_transport", "off"),
                 type=" microsoft.DBforPostgreSQL/flexibleServers/Configurations ")
    records, stats = run(inp([server("s1", "a"), child]))
    (srv,) = [r for r in records if r.type == FLEX]
    attached = srv.children[RST]
    assert attached is not None and attached["properties"] == {"value": "off"}
    assert not stats.errors and not stats.ignored


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (dict(server("s1", "a"), type="Microsoft.Storage/storageAccounts"),
         "'type' 'Microsoft.Storage/storageAccounts' contradicts the id, which names a "
         "Microsoft.DBforPostgreSQL/flexibleServers"),
        (dict(config("s1", "a", "require_secure_transport", "off"),
              type="Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings"),
         "'type' 'Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings' contradicts "
         "the id, which names a Microsoft.DBforPostgreSQL/flexibleServers/configurations"),
        (dict(pricing("s1", "Standard"), type="microsoft.dbforpostgresql/flexibleservers"),
         "'type' 'microsoft.dbforpostgresql/flexibleservers' contradicts the id, which names a "
         "Microsoft.Security/pricings"),
        (dict(server("s1", "a"), type=7), "'type' must be a string, found 7"),
    ],
    ids=["server-says-storage", "config-says-atp", "pricing-says-server", "type-not-text"],
)
def test_a_type_that_contradicts_the_id_is_a_row_error(row: dict[str, Any], message: str) -> None:
    records, stats = run(inp([server("s1", "a"), row, server("s1", "b")]))
    assert {r.data["name"] for r in records if r.type == FLEX} == {"a", "b"}  # the others are judged
    (problem,) = stats.errors
    assert problem.unit is Unit.ROW
    assert problem.text() == f"in.json:2:1: {message}"
    assert not stats.ignored  # not counted as a type no rule reads


@pytest.mark.parametrize(
    "rid",
    ["/", "/subscriptions/", "/subscriptions", "/subscriptions/s1/", "/subscriptions/s1/resourceGroups",
     "/providers", "/subscriptions/s1/providers/", "/subscriptions/s1/resourceGroups/g/providers/X/y/n/",
     "/subscriptions/s1/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers/a/",
     "/subscriptions/s1/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers//configurations/x",
     "//", "/a b /c", "/subscriptions/s1/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers"],
)
@pytest.mark.parametrize("rtype", [None, FLEX, CONF, "microsoft.resources/subscriptions", "x"])
@pytest.mark.parametrize("streaming", [False, True], ids=["buffered", "streaming"])
def test_odd_ids_never_raise(rid: str, rtype: str | None, streaming: bool) -> None:
    row: dict[str, Any] = {"id": rid, "properties": {}}
    if rtype is not None:
        row["type"] = rtype
    records, stats = run(inp([server("s1", "a"), row, server("s1", "b")], HEADER if streaming else None))
    assert {"a", "b"} <= {r.data.get("name") for r in records if r.type == FLEX}
    assert all(p.unit is Unit.ROW for p in stats.errors)


def test_a_subscription_row_is_not_skipped_unparsed(write: Callable[[str, str], Path]) -> None:
    # type_from_id once gave this type in mixed case, so the row was skipped as of no use.
    rows = [{"id": "/subscriptions/s1", "type": "microsoft.resources/subscriptions", "name": "Prod",
             "properties": {"state": "Enabled"}}, server("s1", "a")]
    path = write("s.ndjson", "".join(json.dumps(r) + "\n" for r in rows))
    stats = Stats()
    records = list(assemble([open_input(str(path))], WANTED, stats))
    (sub,) = [r for r in records if r.type == "Microsoft.Resources/subscriptions"]
    assert sub.data["name"] == "Prod" and sub.origin.line == 1
    assert not stats.ignored


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


@pytest.mark.parametrize(
    ("rid", "rtype", "expected"),
    [
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a", "ns/t", True),
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a/c/b", "ns/t/c", True),
        ("/subscriptions/s/providers/ns/t/a", "ns/t", True),
        ("/providers/ns/t/a", "ns/t", True),
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a/c/b", "ns/t", False),
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a", "ns/t/c", False),
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a", "other/t", False),
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a/", "ns/t", False),  # left to type_from_id
        ("/subscriptions/s", "microsoft.resources/subscriptions", False),  # likewise
        ("/subscriptions/s/resourcegroups/g/providers/ns/t/a", "ns", False),
    ],
)
def test_id_has_type(rid: str, rtype: str, expected: bool) -> None:
    assert id_has_type(rid, rtype) is expected


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


def test_rows_no_rule_can_use_are_skipped_unparsed(write: Callable[[str, str], Path]) -> None:
    # The fast path: a line that starts with its id and that no rule can use is counted from
    # its id alone, never parsed (NaN there is never seen); a row a rule reads is parsed, strictly.
    unused = server("s1", "a")["id"] + "/configurations/log_connections"
    lines = [json.dumps(server("s1", "a")),
             f'{{"id": "{unused}", "properties": {{"value": NaN}}}}',
             f'{{"id": "{config("s1", "a", "require_secure_transport", "on")["id"]}", "properties": {{"value": NaN}}}}']
    path = write("fast.ndjson", "\n".join(lines) + "\n")
    stats = Stats()
    records = list(assemble([open_input(str(path))], WANTED, stats))
    assert [r.data["name"] for r in records if r.type == FLEX] == ["a"]
    assert stats.ignored == {CONF: 1}
    assert [(p.span.line, p.message) for p in stats.errors] == [(3, "NaN is not JSON: a number must be finite")]
