"""Reading exports: every accepted shape streams the same rows, and bad input is located."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine.errors import InputError
from policyengine.sources import jsonstream
from policyengine.sources.export import open_input, read_input

Write = Callable[[str, str], Path]

ROWS = [
    {"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/a",
     "type": "microsoft.dbforpostgresql/flexibleservers", "properties": {"state": "Ready", "n": [1, 2]}},
    {"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/a/configurations/x",
     "properties": {"value": "on \u00e9 \"quoted\" ]}"}},
]


def rows_of(path: Path | str) -> list[tuple[dict[str, Any], int]]:
    return [(r.data, r.line) for r in open_input(str(path)).rows]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"count": 2, "data": ROWS, "skip_token": None, "total_records": 2}, indent=2),
        json.dumps({"count": 2, "data": ROWS, "skip_token": None}),
        json.dumps({"totalRecords": 2, "facets": [{"x": [1, {"y": "]"}]}], "data": ROWS}, indent=1),
        json.dumps(ROWS, indent=2),
        json.dumps(ROWS),
        "\n".join(json.dumps(r) for r in ROWS) + "\n",
        "\n\n" + "\n\n".join(json.dumps(r) for r in ROWS),
        json.dumps({"value": ROWS}, indent=2),
        json.dumps({"value": ROWS}),
        json.dumps({"value": ROWS, "nextLink": None}, indent=2),
    ],
    ids=["az-graph-pretty", "az-graph-compact", "rest-other-keys-first", "array-pretty",
         "array-compact", "ndjson", "ndjson-blank-lines", "arm-list-pretty", "arm-list-compact",
         "arm-list-last-page"],
)
def test_every_shape_gives_the_same_rows(write: Write, text: str) -> None:
    assert [d for d, _ in rows_of(write("in.json", text))] == ROWS


def test_table_result_format(write: Write) -> None:
    table = {"columns": [{"name": "id", "type": "string"}, {"name": "properties", "type": "object"}],
             "rows": [[ROWS[0]["id"], {"state": "Ready"}]]}
    rows = rows_of(write("t.json", json.dumps({"data": table}, indent=2)))
    assert rows == [({"id": ROWS[0]["id"], "properties": {"state": "Ready"}}, 2)]  # the table's line


def test_line_numbers(write: Write) -> None:
    pretty = write("p.json", json.dumps({"count": 2, "data": ROWS}, indent=2))
    lines = pretty.read_text().splitlines()
    expected = [i + 1 for i, line in enumerate(lines) if line == "    {"]
    assert [line for _, line in rows_of(pretty)] == expected
    nd = write("n.ndjson", "\n" + json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n")
    assert [line for _, line in rows_of(nd)] == [2, 4]


def test_streams_across_chunk_boundaries(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", 7)
    many = [dict(ROWS[i % 2], id=f"{ROWS[i % 2]['id']}{i}") for i in range(40)]
    path = write("big.json", json.dumps({"data": many, "count": 40}, indent=2))
    got = rows_of(path)
    assert [d for d, _ in got] == many
    text_lines = path.read_text().splitlines()
    assert all(text_lines[line - 1].strip() == "{" for _, line in got)


def test_snapshot_header_is_read_before_rows(write: Write) -> None:
    header = {"$policyengine": {"kind": "snapshot", "version": 1, "order": "parent-first"}}
    path = write("s.ndjson", json.dumps(header) + "\n" + json.dumps(ROWS[0]) + "\n")
    inp = open_input(str(path))
    assert inp.header["order"] == "parent-first"
    assert [(r.data, r.line) for r in inp.rows] == [(ROWS[0], 2)]


def test_stdin() -> None:
    inp = read_input(io.StringIO(json.dumps(ROWS)), "<stdin>")
    assert [r.data for r in inp.rows] == ROWS


@pytest.mark.parametrize("text", ["", "\n  \n", "\t"])
def test_empty_input_is_an_error_not_a_clean_estate(write: Write, text: str) -> None:
    path = write("e.json", text)
    with pytest.raises(InputError) as caught:
        open_input(str(path))
    assert str(caught.value).startswith(f"{path}:1:1: empty input: no rows")


@pytest.mark.parametrize("text", ["[]", '{"data": []}', '{\n  "count": 0,\n  "data": []\n}', '{"value": []}'])
def test_an_empty_estate_is_read_and_noted(write: Write, text: str) -> None:
    path = write("e.json", text)
    opened = open_input(str(path))
    assert list(opened.rows) == []
    assert opened.problems == []
    assert opened.notes == [f"{path}: no rows: the input lists no resources (an empty estate)"]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{"id": "/a"}\n{"id": "/b",\n', "2:13", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('[\n  {"id": "/a"},\n  {"id": "/b"} x\n]', "3:16", "invalid JSON: expected ',' or ']' between rows"),
        ('[\n  {"id": "/a"},\n  {"id": \n', "4:1", "invalid JSON: Expecting value"),
        ('{\n  "count": 1\n}', "1:1", "a JSON object input must be the output of `az graph query` "
         '({"data": [...]}), an ARM list ({"value": [...]}) or one resource with an \'id\''),
        ('[\n  {"id": "/a"},\n  42\n]', "3:1", "a row must be a JSON object, found number"),
        ('[\n  {"name": "no id"}\n]', "2:1", "a row needs an 'id' (an ARM resource id starting with '/')"),
        ("hello", "1:1", "not JSON: expected an array, an object or NDJSON rows"),
        ('{"data": {"columns": [], "rows": [[1]]}}', "1", "a table row does not match its columns"),
        ('[{"id": "/a"}] [', "1:16", "invalid JSON: extra data after the array"),
    ],
    ids=["ndjson-bad-line", "array-missing-comma", "truncated", "object-without-data", "row-not-object",
         "row-without-id", "not-json", "table-mismatch", "extra-data"],
)
def test_bad_input_is_located(write: Write, text: str, where: str, message: str) -> None:
    path = write("bad.json", text)
    opened = open_input(str(path))
    try:
        list(opened.rows)
    except InputError as exc:  # the rest of the file cannot be read
        texts = [str(exc)]
    else:  # a bad row: the rows around it are still read
        texts = [p.text() for p in opened.problems]
    assert texts == [f"{path}:{where}: {message}"]


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read input: No such file or directory"):
        open_input(str(tmp_path / "absent.json"))
    binary = tmp_path / "bin.json"
    binary.write_bytes(b'[{"id": "/\xff\xfe"}]')
    with pytest.raises(InputError, match="not UTF-8 text"):
        rows_of(binary)


# -- the shapes users have ------------------------------------------------------------------

FIXTURES = Path(__file__).parent.parent / "fixtures" / "exports"
FLEX = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}"


def test_an_arm_list_with_a_next_link_is_read_and_said_partial() -> None:
    path = FIXTURES / "arm-list-next-link.json"
    opened = open_input(str(path))
    rows = [(r.data["name"], r.line) for r in opened.rows]
    assert rows == [("flex-arm", 3)]
    assert opened.problems == []
    assert opened.notes == [f"{path}:18: 'nextLink' is set: the listing goes on beyond this file, and "
                            "resources in its further pages are not judged (the link cannot be followed "
                            "from a file)"]


@pytest.mark.parametrize("link", ["nextLink", "skip_token", "$skipToken"])
def test_a_one_line_listing_with_more_pages_is_said_partial(write: Write, link: str) -> None:
    path = write("l.json", json.dumps({"data" if link != "nextLink" else "value": ROWS, link: "more"}))
    opened = open_input(str(path))
    assert [r.data for r in opened.rows] == ROWS
    assert len(opened.notes) == 1 and f"'{link}' is set" in opened.notes[0]


def test_az_show_is_one_row_with_its_flattened_properties_put_back() -> None:
    opened = open_input(str(FIXTURES / "az-flexible-server-show.json"))
    (row,) = list(opened.rows)
    assert row.line == 1
    data = row.data
    assert data["id"] == FLEX.format(sub="33333333-3333-3333-3333-333333333333", rg="rg-cli", name="flex-cli")
    assert data["type"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    assert data["sku"] == {"name": "Standard_B1ms", "tier": "Burstable"}  # the envelope stays
    assert data["resourceGroup"] == "rg-cli" and data["tags"] == {} and data["location"] == "West Europe"
    assert data["properties"]["network"] == {"publicNetworkAccess": "Enabled"}
    assert data["properties"]["administratorLogin"] == "pgadmin"
    assert "network" not in data and "state" not in data


def test_a_compact_single_object_is_one_row(write: Write) -> None:
    row = {"id": ROWS[0]["id"], "type": "Microsoft.DBforPostgreSQL/flexibleServers", "state": "Ready"}
    assert rows_of(write("one.json", json.dumps(row))) == [
        ({"id": row["id"], "type": row["type"], "properties": {"state": "Ready"}}, 1)]


def test_az_parameter_list_rows_read_as_arm_configurations() -> None:
    rows = rows_of(FIXTURES / "az-parameter-list.json")
    assert [(d["name"], d["properties"]["value"], line) for d, line in rows] == [
        ("require_secure_transport", "off", 2), ("ssl_min_protocol_version", "TLSv1.2", 19)]
    assert all(d["type"] == "Microsoft.DBforPostgreSQL/flexibleServers/configurations" for d, _ in rows)
    assert rows[0][0]["properties"]["source"] == "user-override"


def test_a_psrule_export_is_read_as_arm_rows_with_its_children_flattened() -> None:
    rows = rows_of(FIXTURES / "psrule-get-azresource.json")
    legacy = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-legacy/providers/" \
             "Microsoft.DBforPostgreSQL/servers/legacy-1"
    flex = FLEX.format(sub="22222222-2222-2222-2222-222222222222", rg="rg-app", name="flex-1")
    assert [(d["id"], line) for d, line in rows] == [
        (legacy, 2),
        (legacy + "/firewallRules/AllowAll", 26),  # built from its parent's: it has no id
        (legacy + "/securityAlertPolicies/Default", 36),
        (flex, 49),
        (flex + "/configurations/require_secure_transport", 65),
        (flex + "/configurations/ssl_min_protocol_version", 73),
        (flex + "/advancedThreatProtectionSettings/Default", 80),
    ]
    server = rows[0][0]
    assert server == {
        "id": legacy, "name": "legacy-1", "type": "Microsoft.DBforPostgreSQL/servers", "location": "westeurope",
        "resourceGroup": "rg-legacy", "subscriptionId": "22222222-2222-2222-2222-222222222222",
        "properties": {"sslEnforcement": "Enabled", "minimalTlsVersion": "TLS1_2", "userVisibleState": "Ready"},
        "sku": {"name": "GP_Gen5_2", "tier": "GeneralPurpose", "capacity": 2}, "tags": {"env": "prod"},
    }
    assert rows[4][0]["properties"] == {"value": "off", "source": "user-override"}
    assert rows[4][0]["type"] == "Microsoft.DBforPostgreSQL/flexibleServers/configurations"


@pytest.mark.parametrize(
    ("child", "message"),
    [
        ({"Name": "x"}, "a nested resource without an id needs a 'Type'/'ResourceType' and a 'Name' to be "
                        "placed under its parent"),
        ({"ResourceType": "Microsoft.DBforPostgreSQL/flexibleServers/configurations/deeper", "Name": "x"},
         "a nested Microsoft.DBforPostgreSQL/flexibleServers/configurations/deeper without an id is not a "
         "child of its parent Microsoft.DBforPostgreSQL/flexibleServers"),
        ({"ResourceId": "/a", "Id": "/b", "Name": "x"}, "'ResourceId' and 'Id' disagree: '/a' and '/b'"),
        (42, "a nested resource must be a JSON object, found number"),
    ],
    ids=["no-type", "not-a-child", "ids-disagree", "not-an-object"],
)
def test_a_bad_nested_resource_is_an_error_of_its_own(write: Write, child: Any, message: str) -> None:
    parent = {"ResourceId": ROWS[0]["id"], "ResourceType": "Microsoft.DBforPostgreSQL/flexibleServers",
              "Properties": {}, "resources": [{"Name": "ok", "ResourceType":
                                               "Microsoft.DBforPostgreSQL/flexibleServers/configurations"},
                                              child]}
    path = write("p.json", json.dumps([parent], indent=2))
    opened = open_input(str(path))
    ids = [r.data["id"] for r in opened.rows]
    assert ids == [ROWS[0]["id"], f"{ROWS[0]['id']}/configurations/ok"]  # the rest is read
    lines = path.read_text().splitlines()
    child_line = next(i + 1 for i, line in enumerate(lines) if line.strip() in ("42,", "42", "{")
                      and i > next(j for j, text in enumerate(lines) if '"ok"' in text))
    assert [p.text() for p in opened.problems] == [f"{path}:{child_line}:1: {message}"]


def test_the_real_psrule_export_is_read() -> None:
    real = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "psrule" / "tests" / \
        "Resources.PostgreSQL.json"
    if not real.exists():
        pytest.skip("the real-world corpus is not beside the project")
    opened = open_input(str(real))
    rows = list(opened.rows)
    assert opened.problems == []
    types = sorted({r.data["type"] for r in rows})
    assert types == ["Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.DBforPostgreSQL/servers",
                     "Microsoft.DBforPostgreSQL/servers/firewallRules",
                     "Microsoft.DBforPostgreSQL/servers/securityAlertPolicies"]
    assert len(rows) == 19
    assert all(r.data["id"].startswith("/subscriptions/") for r in rows)


# -- strict JSON: what json.loads takes but would mislead --------------------------------------

DEEP = "[" * 300 + "]" * 300  # past the bound, short of Python's own recursion limit
DEEPER = "[" * 100_000 + "]" * 100_000  # past the C decoder's stack


@pytest.mark.parametrize(
    ("bad", "offset", "message"),
    [
        ('{"id": "/x", "name": "a", "name": "b"}', 26, "duplicate key 'name' in one object: JSON leaves which "
                                                       "value counts undefined, so the row is not used"),
        ('{"id": "/x", "properties": {"value": "off", "value": "on"}}', 44, "duplicate key 'value' in one "
         "object: JSON leaves which value counts undefined, so the row is not used"),
        ('{"id": "/x", "v": NaN}', 18, "NaN is not JSON: a number must be finite"),
        ('{"id": "/x", "v": Infinity}', 18, "Infinity is not JSON: a number must be finite"),
        ('{"id": "/x", "v": [1, -Infinity]}', 22, "-Infinity is not JSON: a number must be finite"),
        ('{"id": "/x", "v": 1e400}', 18, "number out of range: 1e400 overflows a 64-bit float"),
        ('{"id": "/x", "v": -2.5E+999}', 18, "number out of range: -2.5E+999 overflows a 64-bit float"),
        ('{"id": "/x", "v": ' + "9" * 5000 + "}", 18, "number out of range: an integer of 5000 digits"),
        ('{"id": "/x", "v": ' + DEEP + "}", 18 + 255, "JSON nested more than 256 deep"),
        ('{"id": "/x", "v": ' + DEEPER + "}", 18 + 255, "JSON nested more than 256 deep"),
    ],
    ids=["duplicate-key", "duplicate-nested-key", "nan", "infinity", "minus-infinity", "overflow",
         "overflow-negative", "huge-int", "deep", "deeper-than-the-stack"],
)
@pytest.mark.parametrize("shape", ["ndjson", "array", "pretty-array", "az-graph"])
def test_refused_json_is_a_located_error_of_its_row(write: Write, bad: str, offset: int, message: str,
                                                     shape: str) -> None:
    good = json.dumps(ROWS[0])
    if shape == "ndjson":
        text, line, col = f"{good}\n{bad}\n{good}\n", 2, offset + 1
    elif shape == "array":
        text, line, col = f"[{good}, {bad}, {good}]", 1, len(good) + 3 + offset + 1
    elif shape == "pretty-array":
        text, line, col = f"[\n  {good},\n  {bad},\n  {good}\n]", 3, 3 + offset
    else:
        text, line, col = f'{{\n  "count": 3,\n  "data": [\n    {good},\n    {bad},\n    {good}\n  ]\n}}', 5, 5 + offset
    path = write("x.json", text)
    opened = open_input(str(path))
    assert [r.data for r in opened.rows] == [ROWS[0], ROWS[0]]  # the rows around it are read
    assert [p.text() for p in opened.problems] == [f"{path}:{line}:{col}: {message}"]
    assert all(p.unit.value == "row" for p in opened.problems)


def test_a_refused_row_across_chunk_boundaries(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", 5)
    good = json.dumps(ROWS[0], indent=2)
    bad = '{"id": "/x",\n "a": {"b": 1,\n "b": 2}}'
    path = write("x.json", f"[{good},\n{bad},\n{good}]")
    opened = open_input(str(path))
    assert [r.data for r in opened.rows] == [ROWS[0], ROWS[0]]
    bad_line = len(good.splitlines()) + 3
    assert [p.text() for p in opened.problems] == [
        f"{path}:{bad_line}:2: duplicate key 'b' in one object: JSON leaves which value counts undefined, "
        "so the row is not used"]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{\n  "data": [],\n  "data": []\n}', "3:3", "duplicate key 'data' in the document"),
        ('{\n  "count": NaN,\n  "data": []\n}', "2:12", "NaN is not JSON: a number must be finite"),
        ('{\n  "id": "/a",\n  "value": [\n    {"id": "/b"}\n  ]\n}', "1:1",
         "an object with an id and a 'value' array is neither one resource nor a listing"),
        ('{"data": null}', "1", "'data' must be an array of rows or {columns, rows}"),
        ('{\n  "value": {}\n}', "2", "'value' must be an array of rows"),
    ],
    ids=["duplicate-member", "refused-member", "resource-and-listing", "data-null", "value-not-array"],
)
def test_a_bad_document_is_an_error_of_the_file(write: Write, text: str, where: str, message: str) -> None:
    path = write("d.json", text)
    with pytest.raises(InputError) as caught:
        list(open_input(str(path)).rows)
    assert str(caught.value) == f"{path}:{where}: {message}"


def test_a_one_line_listing_with_a_refused_row_keeps_the_others(write: Write) -> None:
    path = write("l.json", '{"data": [' + json.dumps(ROWS[0]) + ', {"id": "/x", "v": NaN}, '
                 + json.dumps(ROWS[1]) + "]}")
    opened = open_input(str(path))
    assert [r.data for r in opened.rows] == ROWS
    (problem,) = opened.problems
    assert problem.message == "NaN is not JSON: a number must be finite" and problem.span.line == 1


def test_a_bad_ndjson_line_is_an_error_of_that_row(write: Write) -> None:
    path = write("n.ndjson", json.dumps(ROWS[0]) + '\n{"id": "/b",\n' + json.dumps(ROWS[1]) + "\n")
    opened = open_input(str(path))
    assert [r.data for r in opened.rows] == ROWS
    assert [p.text() for p in opened.problems] == [
        f"{path}:2:13: invalid JSON: Expecting property name enclosed in double quotes"]


def test_an_id_with_surrounding_spaces_is_trimmed(write: Write) -> None:
    row = dict(ROWS[0], id=f"  {ROWS[0]['id']} ")
    assert rows_of(write("s.json", json.dumps([row]))) == [(ROWS[0], 1)]


# -- end to end: every shape is judged, every refusal reported -------------------------------

Cli = Callable[..., Any]


def _verdicts(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["rule"]["id"], f["resource"]["id"].rsplit("/", 1)[-1]): f["verdict"] for f in report["findings"]}


def test_scan_judges_a_psrule_export_and_its_nested_children(cli: Cli) -> None:
    result = cli("scan", str(FIXTURES / "psrule-get-azresource.json"), "--format", "json")
    report = json.loads(result.out)
    verdicts = _verdicts(report)
    assert verdicts[("PG-SINGLE-001", "legacy-1")] == "pass"
    assert verdicts[("PG-SINGLE-002", "legacy-1")] == "pass"
    assert verdicts[("PG-SINGLE-003", "legacy-1")] == "fail"  # its nested alert policy, Disabled
    assert verdicts[("PG-FLEX-001", "flex-1")] == "fail"  # its nested require_secure_transport, off
    assert verdicts[("PG-FLEX-002", "flex-1")] == "pass"
    assert verdicts[("PG-FLEX-003", "flex-1")] == "pass"
    assert report["scan"]["inputErrors"] == []
    assert result.code == 1


def test_scan_judges_az_cli_output_read_together(cli: Cli) -> None:
    result = cli("scan", str(FIXTURES / "az-flexible-server-show.json"), str(FIXTURES / "az-parameter-list.json"),
                 "--format", "json")
    verdicts = _verdicts(json.loads(result.out))
    assert verdicts[("PG-FLEX-001", "flex-cli")] == "fail"
    assert verdicts[("PG-FLEX-002", "flex-cli")] == "pass"
    assert verdicts[("PG-FLEX-003", "flex-cli")] == "unknown"  # no ATP setting in the input


def test_scan_names_a_conflicting_duplicate_and_judges_it_on_neither_row(cli: Cli, write: Write) -> None:
    rid = FLEX.format(sub="55555555-5555-5555-5555-555555555555", rg="rg", name="twice")
    rows = [{"id": rid, "type": "Microsoft.DBforPostgreSQL/flexibleServers", "properties": {}},
            {"id": f"{rid}/configurations/require_secure_transport", "properties": {"value": "off"}},
            {"id": rid.upper(), "type": "Microsoft.DBforPostgreSQL/flexibleServers",
             "properties": {"state": "Stopped"}},
            {"id": f"{rid}/configurations/require_secure_transport".upper(), "properties": {"value": "on"}}]
    path = write("twice.ndjson", "".join(json.dumps(r) + "\n" for r in rows))
    result = cli("scan", str(path), "--format", "json")
    report = json.loads(result.out)
    assert [f for f in report["findings"] if f["resource"]["id"].lower() == rid.lower()] == []
    (error,) = report["scan"]["inputErrors"]
    assert (error["line"], error["unit"], error["resource"]) == (3, "row", rid.upper())
    assert result.code == 2
    assert f"{path}:3:1: {rid.upper()} is given twice with different values" in result.err


def test_scan_of_an_empty_file_is_an_input_error(cli: Cli, write: Write) -> None:
    path = write("empty.json", "\n")
    result = cli("scan", str(path), "--format", "json")
    (error,) = json.loads(result.out)["scan"]["inputErrors"]
    assert (error["file"], error["unit"]) == (str(path), "file")
    assert "empty" in error["message"]  # said by whichever stage sees it first
    assert result.code == 2


def test_scan_of_an_empty_estate_is_clean_and_says_so(cli: Cli, write: Write) -> None:
    path = write("none.json", '{"count": 0, "data": []}')
    result = cli("scan", str(path), "--format", "json")
    report = json.loads(result.out)
    assert report["scan"]["inputErrors"] == []
    assert f"{path}: no rows: the input lists no resources (an empty estate)" in report["notes"]
    assert result.code == 0


def test_envelope_keys_are_matched_without_case(write: Write) -> None:
    row = {"id": ROWS[0]["id"], "Type": "x/y", "Properties": {"state": "Ready"}, "Location": "westeurope"}
    assert rows_of(write("c.json", json.dumps([row]))) == [(row, 1)]  # nothing taken for flattened


def test_a_long_one_line_listing_is_streamed_not_decoded_whole(write: Write,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from policyengine.sources import export

    monkeypatch.setattr(export, "HEAD_MAX", 100)
    many: list[dict[str, Any]] = [dict(ROWS[0], id=f"{ROWS[0]['id']}{i}") for i in range(50)]
    many[7] = {"id": "/x", "v": float("nan")}
    path = write("one-line.json", json.dumps({"count": 50, "data": many}))  # json.dumps writes NaN
    opened = open_input(str(path))
    assert len(list(opened.rows)) == 49
    (problem,) = opened.problems
    assert problem.message == "NaN is not JSON: a number must be finite" and problem.span.line == 1


def test_one_pretty_psrule_object_has_its_children_located(write: Write) -> None:
    (server,) = [r for r in json.loads((FIXTURES / "psrule-get-azresource.json").read_text())
                 if r["Name"] == "flex-1"]
    path = write("one.json", json.dumps(server, indent=2))
    lines = path.read_text().splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line == "    {"]
    assert [line for _, line in rows_of(path)] == [1, *starts]
