"""Hostile input, end to end: every case ends in a located input error or a correct verdict,
the report is still written, and the good input beside it is still judged. Never a
traceback, never a hang, never a resource silently dropped (issue 11).

Each case puts one hostile file beside a good export in one scan. "error" cases must name the
hostile file (with a line where the file has lines) among the report's input errors and exit 2;
"judged" cases must exit by the findings and judge the hostile file's server too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine.cli import main
from tests.cli.test_scan import FLEX_ID, SUB, flex

GOOD = f"{FLEX_ID}/good"
SERVER = "Microsoft.DBforPostgreSQL/flexibleServers"
TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
HUGE = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


def _server(name: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"id": f"{FLEX_ID}/{name}", "name": name, "type": SERVER.lower(),
                           "subscriptionId": SUB, "properties": {"state": "Ready"}}
    row.update(extra)
    return row


def _ndjson(*rows: dict[str, Any] | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def _template(*resources: dict[str, Any] | str, parameters: str = "{}") -> str:
    body = ",".join(r if isinstance(r, str) else json.dumps(r) for r in resources)
    return (f'{{"$schema": "{TEMPLATE_SCHEMA}", "contentVersion": "1.0.0.0", '
            f'"parameters": {parameters}, "resources": [{body}]}}')


def _flex_resource(name: str = "pg", **properties: Any) -> dict[str, Any]:
    return {"type": SERVER, "apiVersion": "2024-08-01", "name": name, "location": "westeurope",
            "properties": properties}


#: (id, file name, content, expectation): "error" or "judged".
CASES: list[tuple[str, str, str | bytes, str]] = [
    # Exports.
    ("export-huge-int", "x.ndjson", _ndjson(_server("x"), f'{{"id": "{FLEX_ID}/y", "n": {HUGE}}}'), "error"),
    ("export-deep", "x.json", DEEP, "error"),
    ("export-deep-in-row", "x.ndjson", _ndjson(_server("x"), f'{{"id": "{FLEX_ID}/y", "v": {DEEP}}}'), "error"),
    ("export-nan", "x.ndjson", _ndjson(_server("x"), f'{{"id": "{FLEX_ID}/y", "v": NaN}}'), "error"),
    ("export-infinity", "x.json", f'[{{"id": "{FLEX_ID}/y", "v": Infinity}}]', "error"),
    ("export-1e400", "x.json", f'[{{"id": "{FLEX_ID}/y", "v": 1e400}}]', "error"),
    ("export-empty", "x.json", "", "error"),
    ("export-blank", "x.ndjson", "\n\n  \n", "error"),
    ("export-binary", "x.json", b"\x00\xff\xfe garbage \x89PNG", "error"),
    ("export-row-no-id", "x.ndjson", _ndjson(_server("x"), {"name": "no id"}), "error"),
    ("export-row-id-number", "x.ndjson", _ndjson(_server("x"), {"id": 42}), "error"),
    ("export-duplicate-key", "x.ndjson",
     _ndjson(f'{{"id": "{FLEX_ID}/x", "type": "{SERVER}", "name": "x", "name": "y"}}'), "error"),
    ("export-type-contradicts-id", "x.ndjson",
     _ndjson(_server("x", type="Microsoft.Storage/storageAccounts")), "error"),
    ("export-case-duplicates-conflict", "x.ndjson",
     _ndjson(_server("x", properties={"state": "Ready"}),
             dict(_server("x"), id=f"{FLEX_ID}/X".upper(), properties={"state": "Stopped"})), "error"),
    ("export-data-null", "x.json", '{"data": null}', "error"),
    ("export-truncated", "x.json", f'[{json.dumps(_server("x"))}, {{"id": ', "error"),
    ("export-lone-surrogate", "x.json", f'[{json.dumps(_server("x"))[:-1]}, "tags": {{"t": "\\ud800"}}}}]',
     "judged"),
    ("export-escape-sequences", "x.ndjson", _ndjson(_server("x\u001b]8;;http://evil\u0007x\u001b[2J")), "judged"),
    ("export-type-trailing-space", "x.ndjson", _ndjson(_server("x", type=SERVER + " ")), "judged"),
    ("export-type-mixed-case", "x.ndjson", _ndjson(_server("x", type=SERVER.upper())), "judged"),
    ("export-utf16", "x.json", ("[" + json.dumps(_server("x")) + "]").encode("utf-16"), "judged"),
    # Templates.
    ("template-truncated", "t.json", _template(_flex_resource())[:-5], "error"),
    ("template-huge-int", "t.json", _template(_flex_resource(storage={"storageSizeGB": int(HUGE[:10])}))
     .replace(HUGE[:10], HUGE), "error"),
    ("template-deep", "t.json", _template(_flex_resource()).replace('"properties": {}', f'"properties": {DEEP}'),
     "error"),
    ("template-nan", "t.json", _template(_flex_resource()).replace('"properties": {}', '"properties": NaN'),
     "error"),
    ("template-bad-expression", "t.json", _template(_flex_resource("[concat('a']")), "error"),
    ("template-unclosed-bracket-is-literal", "t.json", _template(_flex_resource("[concat('a'")), "judged"),
    ("template-child-one-segment", "t.json",
     _template(_flex_resource("pg"), {"type": f"{SERVER}/configurations", "apiVersion": "2024-08-01",
                                      "name": "require_secure_transport", "properties": {"value": "off"}}), "error"),
    ("template-lone-surrogate", "t.json", _template(_flex_resource("pg\\ud800")), "judged"),
    ("template-utf16", "t.json", _template(_flex_resource("pg")).encode("utf-16"), "judged"),
    ("template-copy-huge", "t.json",
     _template(dict(_flex_resource("[concat('pg', copyIndex())]"), copy={"name": "c", "count": 10**9})), "error"),
    ("template-bom", "t.json", b"\xef\xbb\xbf" + _template(_flex_resource("pg")).encode(), "judged"),
    # Terraform plans.
    ("plan-truncated", "p.json", '{"format_version": "1.2", "planned_values": {"root_module": {', "error"),
    ("plan-huge-int", "p.json", '{"format_version": "1.2", "planned_values": {"root_module": {"resources": '
     f'[{{"address": "a.b", "type": "azurerm_postgresql_flexible_server", "name": "b", "values": {{"n": {HUGE}}}}}]'
     '}}}', "error"),
    ("plan-resources-not-list", "p.json",
     '{"format_version": "1.2", "planned_values": {"root_module": {"resources": 7}}}', "error"),
]


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")


def _scan(tmp_path: Path, *paths: Path) -> tuple[int, dict[str, Any], str, Callable[[], str]]:
    good = tmp_path / "good.ndjson"
    good.write_text(_ndjson(*flex("good", "on")))
    report = tmp_path / "report.json"
    code = main(["scan", str(good), *map(str, paths), "--format", "json", "-o", str(report), "--quiet"])
    doc = json.loads(report.read_text(encoding="utf-8"), parse_constant=_refuse)
    return code, doc, str(good), lambda: report.read_text(encoding="utf-8")


def _refuse(name: str) -> None:
    raise AssertionError(f"the report holds {name}")


@pytest.mark.parametrize(("name", "content", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_located_or_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                            content: str | bytes, expect: str) -> None:
    hostile = tmp_path / name
    _write(hostile, content)
    code, doc, _, _ = _scan(tmp_path, hostile)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    resources = {f["resource"]["id"].lower() for f in doc["findings"]}
    assert GOOD.lower() in resources, "the good export beside the hostile file was not judged"
    errors = doc["scan"]["inputErrors"]
    if expect == "error":
        assert code == 2, err
        mine = [e for e in errors if e["file"] == str(hostile)]
        assert mine, f"no input error names {hostile}: {errors}"
        assert all(e["line"] >= 1 for e in mine) or isinstance(content, bytes) or not content.strip(), mine
        assert f"{hostile}" in err
    else:
        assert errors == [], errors
        assert code in (0, 1), err
        assert len(resources) >= 2, "the hostile file's resource was not judged"


def test_two_outputs_naming_one_file_is_a_clean_usage_error(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.out"
    code = main(["scan", "--quiet", "--format", "json", "-o", str(out), "--format", "sarif", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and str(out) in err
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    code = main(["scan", "--quiet", "--format", "json", "-o", "/dev/full"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "/dev/full" in err
