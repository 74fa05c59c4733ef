"""Templates through the command line: locations, parameters, unknowns, Bicep, expand, and
hostile input that must end in a clear message and exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result

CORPUS = Path(__file__).parent.parent / "fixtures" / "templates"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def template(resources: Any, **sections: Any) -> str:
    return json.dumps({"$schema": SCHEMA, "contentVersion": "1.0.0.0", **sections, "resources": resources},
                      indent=2)


def server(name: str = "pg-a", **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.DBforPostgreSQL/flexibleServers", "apiVersion": "2024-08-01",
            "name": name, "location": "westeurope", "properties": {"version": "16"}, **extra}


def findings(result: Result) -> list[dict[str, Any]]:
    assert result.code in (0, 1), result.err
    report: dict[str, Any] = json.loads(result.out)
    return list(report["findings"])


def test_examples_report_insecure_servers_with_file_and_line(cli: Callable[..., Result]) -> None:
    result = cli("scan", str(EXAMPLES), "--format", "json")
    found = findings(result)
    assert result.code == 1
    failing = {(f["rule"]["id"], f["resource"]["id"].rsplit("/", 1)[-1]) for f in found if f["verdict"] == "fail"}
    assert ("PG-FLEX-001", "pg-legacy-app-1") in failing  # require_secure_transport off, from the parameters file
    assert ("PG-FLEX-002", "pg-legacy-app-2") in failing  # TLSv1.1, from the parameters file
    assert ("PG-SINGLE-001", "pg-single-legacy") in failing
    secure = [f for f in found if "pg-secure" in f["resource"]["id"]]
    # Its alert recipients are the subscription's, unknown in a resource-group template;
    # connection throttling and firewall rules do not apply to a PostgreSQL 18 server without
    # public access.
    verdicts = {f["rule"]["id"]: f["verdict"] for f in secure}
    assert verdicts.pop("PG-FLEX-017") == "unknown"
    assert {verdicts.pop(r) for r in ("PG-FLEX-008", "PG-FLEX-010", "PG-FLEX-011")} == {"not_applicable"}
    assert set(verdicts.values()) == {"pass"}
    for f in found:
        source = f["resource"]["source"]
        if source["kind"] == "declared" and source["file"].endswith(".json") and "plan" not in source["file"]:
            assert source["line"] > 0 and source["column"] > 0, f


def test_a_finding_points_at_the_resource_and_the_property(cli: Callable[..., Result],
                                                           write: Callable[[str, str], Path]) -> None:
    path = write("t.json", template([server(resources=[{
        "type": "configurations", "apiVersion": "2024-08-01", "name": "require_secure_transport",
        "properties": {"value": "off"}}])]))
    result = cli("scan", str(path), "--rule", "PG-FLEX-001", "--format", "json")
    (finding,) = findings(result)
    text = path.read_text()
    lines = text.splitlines()
    assert finding["verdict"] == "fail"
    source = finding["resource"]["source"]
    assert lines[source["line"] - 1][source["column"] - 1] == "{"
    assert source["address"] == "resources[0]"
    site = finding["evidence"][0]["site"]
    file, line, col = site.rsplit(":", 2)
    assert file == str(path) and lines[int(line) - 1][int(col) - 1:].startswith('"off"')
    table = cli("scan", str(path), "--rule", "PG-FLEX-001")
    assert site in table.out


def test_fail_on_unknown(cli: Callable[..., Result]) -> None:
    target = str(CORPUS / "unknowns.json")
    assert cli("scan", target, "--rule", "PG-FLEX-001").code == 0
    assert cli("scan", target, "--rule", "PG-FLEX-001", "--fail-on-unknown").code == 1


def test_unknown_evidence_names_the_expression(cli: Callable[..., Result]) -> None:
    result = cli("scan", str(CORPUS / "unknowns.json"), "--rule", "PG-FLEX-002", "--format", "json")
    notes = [e.get("note", "") for f in findings(result) for e in f["evidence"]]
    assert any("parameters('tls')" in n and "not known before deployment" in n for n in notes), notes


def test_parameters_file_by_convention_and_explicit(cli: Callable[..., Result],
                                                    write: Callable[[str, str], Path]) -> None:
    body = template([server(resources=[{
        "type": "configurations", "apiVersion": "2024-08-01", "name": "require_secure_transport",
        "properties": {"value": "[parameters('ssl')]"}}])], parameters={"ssl": {"type": "string"}})
    path = write("db.json", body)
    params = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
              "contentVersion": "1.0.0.0", "parameters": {"ssl": {"value": "off"}}}
    write("db.parameters.json", json.dumps(params))
    assert cli("scan", str(path), "--rule", "PG-FLEX-001").code == 1
    other = write("prod.json", json.dumps({**params, "parameters": {"ssl": {"value": "on"}}}))
    assert cli("scan", str(path), "--rule", "PG-FLEX-001", "--parameters", str(other)).code == 0
    assert cli("scan", str(path), "--rule", "PG-FLEX-001", "-p", "ssl=on").code == 0


def test_parameters_for_several_templates_is_a_usage_error(cli: Callable[..., Result]) -> None:
    result = cli("scan", str(CORPUS), "-p", "tls=TLSv1.2")
    assert result.code == 2 and "one template" in result.err


def test_directory_scan_skips_other_json_with_a_note(cli: Callable[..., Result],
                                                     write: Callable[[str, str], Path]) -> None:
    write("infra/package.json", '{"name": "x"}')
    path = write("infra/db.json", template([server()]))
    result = cli("scan", str(path.parent), "--verbose", "--rule", "PG-FLEX-001")
    assert result.code == 0
    assert "package.json: skipped: not a template" in result.err
    hook = cli("scan", "--pre-deployment", str(path.parent / "package.json"))
    assert hook.code == 0 and "no templates" in hook.err


@pytest.mark.parametrize(("text", "message"), [
    ('{"$schema": "' + SCHEMA + '",\n  "resources": [\n    {"type": }\n  ]}', ":3:14: unexpected '}'"),
    (template([server("[parameters('missing')]")]), "missing"),
    (template([server("[variables('a')]")], variables={"a": "[variables('b')]", "b": "[variables('a')]"}),
     "cycl"),
    (template([server("[" + "concat(" * 3000 + "'x'" + ")" * 3000 + "]")]), "deep"),
    (template([server("[concat('pg-', copyIndex())]", copy={"name": "many", "count": 100000})]), "800"),
    (template([{"name": "no-type"}]), "no 'type'"),
    (template("not resources"), "'resources' must be"),
])
def test_hostile_templates_fail_cleanly(cli: Callable[..., Result], write: Callable[[str, str], Path],
                                        text: str, message: str) -> None:
    path = write("bad.json", text)
    result = cli("scan", str(path))
    assert result.code == 2, result.err
    assert message in result.err and "Traceback" not in result.err
    assert result.err.startswith(f"{path}:"), result.err


def test_unsupported_function_is_unknown_and_noted(cli: Callable[..., Result],
                                                   write: Callable[[str, str], Path]) -> None:
    path = write("t.json", template([server(resources=[{
        "type": "configurations", "apiVersion": "2024-08-01", "name": "require_secure_transport",
        "properties": {"value": "[frobnicate('on')]"}}])]))
    result = cli("scan", str(path), "--rule", "PG-FLEX-001", "--format", "json", "--verbose")
    (finding,) = findings(result)
    assert finding["verdict"] == "unknown"
    assert "frobnicate" in result.err


def test_a_resource_arm_rejects_is_an_input_error_of_its_own_and_the_rest_is_judged(
        cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path) -> None:
    bad_child = {"type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations", "apiVersion": "2024-08-01",
                 "name": "require_secure_transport", "properties": {"value": "off"}}
    path = write("t.json", template([server(resources=[bad_child]), server("pg-b", location="[bad.expr]")]))
    other = write("other.json", template([server("pg-c")]))
    out = tmp_path / "report.json"
    result = cli("scan", str(path), str(other), "--format", "json", "-o", str(out))
    assert result.code == 2 and "Traceback" not in result.err
    report = json.loads(out.read_text())
    errors = report["scan"]["inputErrors"]
    assert [(e["unit"], e["resource"], e["file"]) for e in errors] == [
        ("resource", "resources[0].resources[0]", str(path)), ("resource", "resources[1]", str(path))]
    assert all(e["line"] > 0 and e["message"].startswith("ARM rejects this template: ") for e in errors)
    verdicts = {(f["rule"]["id"], f["resource"]["id"].rsplit("/", 1)[-1]): f["verdict"] for f in report["findings"]}
    assert verdicts[("PG-FLEX-001", "pg-a")] == "unknown"  # its bad child's value, not the default
    assert verdicts[("PG-FLEX-003", "pg-a")] == "fail"
    assert verdicts[("PG-FLEX-001", "pg-c")] == "pass"
    assert not any(name == "pg-b" for _, name in verdicts)
    assert f"{path}:" in result.err and "policyengine: 2 input errors" in result.err


def test_expand_lists_what_arm_rejects(cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    path = write("t.json", template([server(), server("pg-b", location="[bad.expr]")]))
    result = cli("expand", str(path))
    assert result.code == 2
    doc = json.loads(result.out)
    assert [r["name"] for r in doc["resources"]] == ["pg-a"]
    assert [e["resource"] for e in doc["inputErrors"]] == ["resources[1]"]
    assert result.err.startswith(f"{path}:")


def test_a_bicep_file_without_a_compiler_is_an_input_error_and_the_folder_is_still_scanned(
        cli: Callable[..., Result], write: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(write("empty/.keep", "").parent))
    bicep = write("infra/main.bicep", "param x string\n")
    write("infra/db.json", template([server()]))
    out = tmp_path / "report.json"
    result = cli("scan", str(bicep.parent), "--format", "json", "-o", str(out))
    assert result.code == 2 and "Traceback" not in result.err
    report = json.loads(out.read_text())
    (error,) = report["scan"]["inputErrors"]
    assert error["unit"] == "file" and error["file"] == str(bicep)
    assert "needs the Bicep CLI" in error["message"] and "az bicep build --file" in error["message"]
    assert "scan that JSON" in error["message"]
    assert {f["resource"]["id"].rsplit("/", 1)[-1] for f in report["findings"]} == {"pg-a"}


def test_bicep_without_a_compiler_says_what_to_do(cli: Callable[..., Result], write: Callable[[str, str], Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(write("empty/.keep", "").parent))
    path = write("main.bicep", "param x string\n")
    result = cli("scan", str(path))
    assert result.code == 2 and "needs the Bicep CLI" in result.err and "bicep build" in result.err


def test_bicep_is_compiled_by_the_cli_on_path(cli: Callable[..., Result], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in `bicep` with the real CLI's command line (`bicep build --stdout FILE`): it prints
    # the compiled template kept beside the .bicep file, as the real compiler would produce.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bicep"
    fake.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                    "assert sys.argv[1:3] == ['build', '--stdout'], sys.argv\n"
                    "src = pathlib.Path(sys.argv[3])\n"
                    "sys.stdout.write(src.with_suffix('.compiled.json').read_text())\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    (tmp_path / "main.bicep").write_text((EXAMPLES / "bicep" / "main.bicep").read_text())
    (tmp_path / "main.compiled.json").write_text((EXAMPLES / "bicep" / "main.json").read_text())
    result = cli("scan", str(tmp_path / "main.bicep"), "--format", "json")
    found = findings(result)
    assert {(f["rule"]["id"], f["verdict"]) for f in found if "pg-legacy-reporting" in f["resource"]["id"]} >= {
        ("PG-FLEX-002", "fail")}
    assert {f["resource"]["source"]["file"] for f in found} == {str(tmp_path / "main.bicep") + " (compiled)"}


def test_expand_shows_what_the_scanner_sees(cli: Callable[..., Result]) -> None:
    result = cli("expand", str(EXAMPLES / "flexible-insecure.json"))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    names = [r["name"] for r in doc["resources"]]
    assert names[:2] == ["pg-legacy-app-1", "pg-legacy-app-2"]
    config = doc["resources"][2]
    assert config["type"] == "Microsoft.DBforPostgreSQL/flexibleServers/configurations"
    assert config["properties"]["value"] == "off"
    assert config["location"].startswith(str(EXAMPLES / "flexible-insecure.json") + ":")
    secret = doc["resources"][0]["properties"]["administratorLoginPassword"]
    assert "$unknown" in secret  # a Key Vault reference: never read, never printed


def test_expand_evaluates_outputs(cli: Callable[..., Result]) -> None:
    doc = json.loads(cli("expand", str(EXAMPLES / "flexible-secure.json")).out)
    assert doc["outputs"]["fqdn"] == {"$unknown": "reference(parameters('serverName')).fullyQualifiedDomainName",
                                      "reason": "reference() reads a resource's runtime state"}
    server_id = doc["outputs"]["serverId"]["$unknown"]
    assert "/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-secure-', uniqueString(" in server_id


def test_a_copy_count_known_only_at_deployment_is_one_symbolic_instance(
        cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    path = write("t.json", template([
        server("[format('pg-{0}', copyIndex(1))]", copy={"name": "s", "count": "[parameters('n')]"}),
        {"copy": {"name": "c", "count": "[parameters('n')]"},
         "type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations", "apiVersion": "2024-08-01",
         "name": "[format('pg-{0}/require_secure_transport', copyIndex(1))]", "properties": {"value": "off"}},
    ], parameters={"n": {"type": "int"}}))
    result = cli("scan", str(path), "--rule", "PG-FLEX-001", "--format", "json")
    (finding,) = findings(result)
    assert finding["verdict"] == "fail"  # every copy gets its own parameter, set to off
    assert finding["resource"]["id"].endswith("/flexibleServers/[concat('pg-', copyIndex(1))]")
    assert finding["resource"]["source"]["address"] == "resources[0][*]"
    report = json.loads(result.out)
    assert any("one instance, [*], stands for every copy" in n for n in report["notes"])


def test_a_condition_known_only_at_deployment_is_judged_as_deployed(
        cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    path = write("t.json", template([server(condition="[parameters('deploy')]")],
                                    parameters={"deploy": {"type": "bool"}}))
    result = cli("scan", str(path), "--rule", "PG-FLEX-001", "--format", "json")
    (finding,) = findings(result)
    assert finding["verdict"] == "pass"
    assert any("judged as if deployed" in n and "parameters('deploy')" in n for n in json.loads(result.out)["notes"])
    assert cli("scan", str(path), "--rule", "PG-FLEX-001", "-p", "deploy=false", "--format", "json").out.count(
        '"verdict"') == 0


def test_a_resource_declared_twice_is_an_error_unless_conditions_decide(
        cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    def config(value: str, **extra: Any) -> dict[str, Any]:
        return {"type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations", "apiVersion": "2024-08-01",
                "name": "pg-a/require_secure_transport", "properties": {"value": value}, **extra}

    twice = write("twice.json", template([server(), config("on"), config("off")]))
    result = cli("scan", str(twice))
    assert result.code == 2 and "declared twice (first as resources[1]" in result.err
    assert result.err.startswith(f"{twice}:")
    # ARM rejects it; the error is the child's, and its server is still judged: unknown.
    report = json.loads(cli("scan", str(twice), "--rule", "PG-FLEX-001", "--format", "json").out)
    (error,) = report["scan"]["inputErrors"]
    assert error["unit"] == "resource" and error["resource"] == "resources[2]"
    assert [f["verdict"] for f in report["findings"]] == ["unknown"]
    either = write("either.json", template(
        [server(), config("on", condition="[parameters('strict')]"), config("off", condition="[not(parameters('strict'))]")],
        parameters={"strict": {"type": "bool"}}))
    (finding,) = findings(cli("scan", str(either), "--rule", "PG-FLEX-001", "--format", "json"))
    assert finding["verdict"] == "unknown"
    assert "[resources[1]] or [resources[2]]" in finding["evidence"][0]["note"]
    decided = cli("scan", str(either), "--rule", "PG-FLEX-001", "-p", "strict=false")
    assert decided.code == 1  # the condition known: one declaration, off
