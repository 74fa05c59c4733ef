"""Reading exports: every accepted shape streams the same rows, and bad input is located."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine.errors import InputError
from policyengine.sources import export as reader
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
    ],
    ids=["az-graph-pretty", "az-graph-compact", "rest-other-keys-first", "array-pretty",
         "array-compact", "ndjson", "ndjson-blank-lines"],
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
    monkeypatch.setattr(reader, "CHUNK", 7)
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


def test_empty_input_has_no_rows(write: Write) -> None:
    assert rows_of(write("e.json", "\n  \n")) == []
    assert rows_of(write("e2.json", "[]")) == []
    assert rows_of(write("e3.json", '{"data": []}')) == []


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{"id": "/a"}\n{"id": "/b",\n', "2:13", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('[\n  {"id": "/a"},\n  {"id": "/b"} x\n]', "3:16", "invalid JSON: expected ',' or ']' between rows"),
        ('[\n  {"id": "/a"},\n  {"id": \n', "4:1", "invalid JSON: Expecting value"),
        ('{\n  "count": 1\n}', "1:1", "a JSON object input must have a 'data' array (the output of `az graph query`)"),
        ('[\n  {"id": "/a"},\n  42\n]', "3:1", "a row must be a JSON object, found int"),
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
