"""The evaluation scope: parameters and their validation, secrets, variables and their cycles,
copy loops, outputs, user-defined functions, spans of errors and notes, parameter files and -p."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policyengine.errors import InputError, UsageError
from policyengine.sources import jsonpos
from policyengine.sources.arm.scope import (
    Deployment,
    TemplateError,
    TemplateScope,
    load_parameters_file,
    parse_inline,
)
from policyengine.unknown import Unknown


def scope(template: dict[str, Any], values: dict[str, Any] | None = None, file: str = "t.json") -> TemplateScope:
    return TemplateScope(template, values or {}, Deployment(), file)


def decoded(template: dict[str, Any]) -> tuple[Any, str]:
    """The template as a file would hold it, decoded with positions."""
    text = json.dumps(template, indent=2)
    return jsonpos.loads(text, "t.json"), text


def position(text: str, needle: str) -> str:
    """``line:col`` of the JSON string that contains ``needle``."""
    offset = text.index(needle)
    offset = text.rindex('"', 0, offset)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


# -- spans


def test_an_error_names_the_file_line_and_column_of_its_expression() -> None:
    template, text = decoded({"parameters": {}, "outputs": {"o": {"type": "string",
                                                                   "value": "[parameters('serverName')]"}}})
    with pytest.raises(TemplateError) as caught:
        scope(template).outputs()
    assert str(caught.value) == (f"t.json:{position(text, 'serverName')}: parameters('serverName'): the template "
                                 "declares no parameter 'serverName' (it declares: none)")


def test_an_error_inside_a_variable_points_at_the_variable() -> None:
    template, text = decoded({"variables": {"bad": "[div(1, 0)]", "good": "[variables('bad')]"},
                              "outputs": {"o": {"type": "int", "value": "[variables('good')]"}}})
    with pytest.raises(TemplateError) as caught:
        scope(template).outputs()
    assert str(caught.value).startswith(f"t.json:{position(text, 'div(1, 0)')}: div(): division by zero")


def test_a_parse_error_names_its_place_and_offset() -> None:
    template, text = decoded({"resources": [{"name": "[concat('a', ]"}]})
    with pytest.raises(TemplateError) as caught:
        scope(template).evaluate(template["resources"][0]["name"], container=template["resources"][0], key="name")
    assert str(caught.value) == (f"t.json:{position(text, 'concat(')}: invalid expression: expected a value, found "
                                 "end of expression at character 13 of [concat('a', ]")


def test_plain_dicts_have_no_span() -> None:
    with pytest.raises(TemplateError) as caught:
        scope({}).evaluate({"a": "[div(1, 0)]"})
    assert caught.value.span is None


def test_an_unsupported_function_is_unknown_and_noted_where_it_is() -> None:
    template, text = decoded({"resources": [{"properties": {"x": "[someNewFunction('a')]", "y": "[foo()]"}}]})
    current = scope(template)
    value = current.evaluate(template["resources"][0], container=template["resources"], key=0)
    assert value["properties"]["x"] == Unknown("someNewFunction('a')", "")
    assert value["properties"]["x"].reason == "unsupported function 'someNewFunction'"
    assert current.notes == [f"t.json:{position(text, 'someNewFunction')}: unsupported function 'someNewFunction'",
                             f"t.json:{position(text, 'foo()')}: unsupported function 'foo'"]


def test_a_nested_scope_shares_its_notes() -> None:
    outer = scope({})
    inner = TemplateScope({}, {}, Deployment(), "t.json", outer=outer)
    inner.evaluate("[foo()]")
    assert outer.notes == ["t.json: unsupported function 'foo'"]


# -- parameters


def test_parameter_values_given_default_and_required() -> None:
    current = scope({"parameters": {
        "given": {"type": "string", "defaultValue": "no"},
        "Defaulted": {"type": "string", "defaultValue": "[concat(parameters('given'), '-x')]"},
        "required": {"type": "int"},
    }}, {"GIVEN": "[not an expression]"})
    assert current.parameter("given") == "[not an expression]"  # given values are literal
    assert current.parameter("defaulted") == "[not an expression]-x"
    required = current.parameter("required")
    assert isinstance(required, Unknown)
    assert (required.text, required.reason) == ("parameters('required')", "required parameter 'required' has no value")


def test_secure_parameters_never_reach_output() -> None:
    template = {"parameters": {"pw": {"type": "secureString", "minLength": 4},
                               "cfg": {"type": "secureObject", "defaultValue": {"key": "s3cret"}}},
                "outputs": {"a": {"type": "string", "value": "[concat('x', parameters('pw'))]"},
                            "b": {"type": "object", "value": "[parameters('cfg')]"},
                            "c": {"type": "secureString", "value": "literal-secret"},
                            "d": {"type": "object", "value": "[deployment().properties.template]"}}}
    outputs = scope(template, {"pw": "hunter2"}).outputs()
    shown = repr(outputs) + json.dumps({k: getattr(v, "text", None) for k, v in outputs.items()})
    assert "hunter2" not in shown and "s3cret" not in shown and "literal-secret" not in shown
    assert outputs["a"].parts[1] == Unknown("parameters('pw')", "")
    assert outputs["a"].parts[1].reason == "a secure parameter: its value is never read"
    with pytest.raises(TemplateError) as caught:
        scope(template, {"pw": "abc"}).parameter("pw")
    assert "abc" not in str(caught.value)
    assert "parameter 'pw': the value is shorter than minLength 4 (length 3)" in str(caught.value)


def test_a_key_vault_reference_is_unknown() -> None:
    value = scope({"parameters": {"pw": {"type": "string"}}},
                  {"pw": {"reference": {"keyVault": {"id": "/subscriptions/s/..."}, "secretName": "pg"}}}).parameter("pw")
    assert value == Unknown("parameters('pw')", "")
    assert value.reason == "a Key Vault reference: the secret is read at deployment"


@pytest.mark.parametrize(("decl", "given", "message"), [
    ({"type": "string", "allowedValues": ["TLS1_2", "TLS1_3"]}, "TLS1_0",
     "parameter 'p': the value 'TLS1_0' is not one of the allowed values: 'TLS1_2', 'TLS1_3'"),
    ({"type": "array", "allowedValues": ["a", "b"]}, ["a", "c"],
     "parameter 'p': the value ['a', 'c'] is not one of the allowed values: 'a', 'b'"),
    ({"type": "int", "minValue": 1, "maxValue": 12}, 13, "parameter 'p': the value 13 is more than maxValue 12"),
    ({"type": "int", "minValue": 1}, 0, "is less than minValue 1"),
    ({"type": "string", "maxLength": 3}, "abcd", "is longer than maxLength 3 (length 4)"),
    ({"type": "array", "minLength": 1}, [], "is shorter than minLength 1 (length 0)"),
    ({"type": "int"}, "4", "parameter 'p': the value '4' is a string, but the parameter is declared int"),
    ({"type": "bool"}, 1, "is an int, but the parameter is declared bool"),
    ({"type": "object"}, None, "is null, but the parameter is declared object"),
])
def test_given_values_are_validated(decl: dict[str, Any], given: Any, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        scope({"parameters": {"p": decl}}, {"p": given}).parameter("p")
    assert message in str(caught.value)


def test_defaults_are_validated_too() -> None:
    with pytest.raises(TemplateError, match="parameter 'p': the value 'x' is not one of the allowed values: 'y'"):
        scope({"parameters": {"p": {"type": "string", "defaultValue": "x", "allowedValues": ["y"]}}}).parameter("p")


def test_a_value_for_an_undeclared_parameter_is_an_error() -> None:
    with pytest.raises(TemplateError, match="parameter 'typo' is given a value but the template declares no such "
                                            r"parameter \(it declares: name\)"):
        scope({"parameters": {"name": {"type": "string"}}}, {"typo": "x"})


@pytest.mark.parametrize(("default", "message"), [
    ("[variables('v')]", "variables(): a parameter's default value can't reference a variable"),
    ("[reference('x').id]", "reference(): cannot be used in a parameter default value"),
    ("[listKeys('x', '2020-01-01')]", "listKeys() cannot be used in a parameter default value"),
    ("[parameters('p')]", "parameters or variables refer to each other in a cycle: p -> p"),
])
def test_what_a_default_value_cannot_do(default: str, message: str) -> None:
    current = scope({"parameters": {"p": {"type": "string", "defaultValue": default}}, "variables": {"v": "x"}})
    with pytest.raises(TemplateError) as caught:
        current.parameter("p")
    assert message in str(caught.value)


def test_a_default_decided_at_deployment_is_the_parameter_itself() -> None:
    current = scope({"parameters": {"a": {"type": "string", "defaultValue": "[newGuid()]"},
                                    "b": {"type": "string", "defaultValue": "[newGuid()]"},
                                    "when": {"type": "string", "defaultValue": "[utcNow('u')]"},
                                    "name": {"type": "string", "defaultValue": "[format('{0}-pg', resourceGroup().name)]"}}})
    a, b = current.parameter("a"), current.parameter("b")
    assert (a.text, b.text) == ("parameters('a')", "parameters('b')")  # two new GUIDs are different values
    assert a.reason == "newGuid() is a new value at each deployment"
    assert current.parameter("when").reason == "utcNow() is the time of the deployment"
    assert current.parameter("name").parts == (Unknown("resourceGroup().name", ""), "-pg")


def test_language_version_2_types_and_nullable() -> None:
    template = {"languageVersion": "2.0", "definitions": {"tls": {"type": "string", "allowedValues": ["TLSv1.2"]}},
                "parameters": {"tls": {"$ref": "#/definitions/tls"}, "maybe": {"type": "string", "nullable": True}}}
    assert scope(template).parameter("maybe") is None
    with pytest.raises(TemplateError, match=r"is not one of the allowed values: 'TLSv1\.2'"):
        scope(template, {"tls": "TLSv1.0"}).parameter("tls")


# -- variables and copy loops


def test_variables_are_lazy_memoised_and_cycles_are_named() -> None:
    template = {"variables": {"a": "[variables('b')]", "b": "[variables('c')]", "c": "[variables('A')]",
                              "ok": "[variables('b2')]", "b2": "fine", "unused": "[div(1, 0)]"}}
    assert scope(template).variable("ok") == "fine"
    with pytest.raises(TemplateError, match="refer to each other in a cycle: a -> b -> c -> a"):
        scope(template).variable("a")


def test_variable_and_property_copy_loops() -> None:
    template = {"variables": {"copy": [{"name": "disks", "count": 2,
                                        "input": {"lun": "[copyIndex('disks')]", "n": "[copyIndex('DISKS', 1)]"}}]}}
    current = scope(template)
    assert current.variable("disks") == [{"lun": 0, "n": 1}, {"lun": 1, "n": 2}]
    resource = {"name": "[concat('vm', copyIndex())]", "properties": {"copy": [
        {"name": "dataDisks", "count": "[add(copyIndex(), 1)]",
         "input": {"lun": "[copyIndex('dataDisks')]", "vm": "[copyIndex('vms')]"}}]}}
    assert current.evaluate(resource, [("vms", 1)]) == {
        "name": "vm1", "properties": {"dataDisks": [{"lun": 0, "vm": 1}, {"lun": 1, "vm": 1}]}}
    with pytest.raises(TemplateError, match="copyIndex\\(\\): used outside a copy loop"):
        current.evaluate({"copy": [{"name": "x", "count": 1, "input": "[copyIndex()]"}]})
    with pytest.raises(TemplateError, match="copy loop 'x': count must be an int from 0 to 800, not 801"):
        current.evaluate({"copy": [{"name": "x", "count": 801, "input": 1}]})


def test_a_copy_count_known_only_at_deployment_is_unknown() -> None:
    current = scope({"parameters": {"n": {"type": "int"}}})
    copy = {"copy": [{"name": "x", "count": "[parameters('n')]", "input": {"i": "[copyIndex('x')]"}}]}
    assert current.evaluate(copy, [("vms", 2)]) == {
        "x": Unknown("""copy('x', parameters('n'), '{"i": "[copyIndex(''x'')]"}', 'vms', 2)""", "")}
    assert current.evaluate(copy, [("vms", 1)]) != current.evaluate(copy, [("vms", 2)])


# -- outputs


def test_outputs_respect_condition_copy_and_type() -> None:
    template = {"parameters": {"flag": {"type": "bool"}}, "outputs": {
        "hidden": {"condition": "[equals(1, 2)]", "type": "string", "value": "[div(1, 0)]"},
        "maybe": {"condition": "[parameters('flag')]", "type": "string", "value": "x"},
        "list": {"type": "array", "copy": {"count": 3, "input": "[mul(copyIndex(), 10)]"}},
        "Typed": {"type": "Object", "value": {"a": "[add(1, 1)]"}},
    }}
    outputs = scope(template).outputs()
    assert list(outputs) == ["maybe", "list", "Typed"]
    assert outputs["maybe"] == Unknown("if(parameters('flag'), outputs('maybe'), null())", "")
    assert outputs["list"] == [0, 10, 20]
    assert outputs["Typed"] == {"a": 2}
    with pytest.raises(TemplateError, match="output 'o' is declared int, but its value is a string"):
        scope({"outputs": {"o": {"type": "int", "value": "1"}}}).outputs()


# -- user-defined functions


UDF = {"functions": [{"namespace": "contoso", "members": {
    "uniqueName": {"parameters": [{"name": "namePrefix", "type": "string"}],
                   "output": {"type": "string", "value": "[concat(toLower(parameters('namePrefix')), '-pg')]"}},
    "readsVariable": {"parameters": [], "output": {"type": "string", "value": "[variables('v')]"}},
    "callsOther": {"parameters": [], "output": {"type": "string", "value": "[contoso.uniqueName('A')]"}},
    "object": {"parameters": [{"name": "n", "type": "int"}], "output": {"type": "object", "value": {"n": "[parameters('n')]"}}},
}}], "parameters": {"prefix": {"type": "string"}}, "variables": {"v": "x"}}


@pytest.mark.parametrize(("expression", "expected"), [
    ("[contoso.uniqueName('PG')]", "pg-pg"),
    ("[CONTOSO.UNIQUENAME('PG')]", "pg-pg"),
    ("[contoso.uniqueName(parameters('prefix'))]", Unknown("concat(toLower(parameters('prefix')), '-pg')", "")),
    ("[contoso.object(2).n]", 2),
])
def test_user_defined_functions(expression: str, expected: Any) -> None:
    assert scope(UDF).evaluate(expression) == expected


@pytest.mark.parametrize(("expression", "message"), [
    ("[contoso.readsVariable()]", "variables(): a user-defined function can't read variables"),
    ("[contoso.callsOther()]", "contoso.uniqueName(): a user-defined function can't call another one"),
    ("[contoso.uniqueName()]", "contoso.uniqueName() takes 1 argument(s), not 0"),
    ("[contoso.uniqueName(1)]", "contoso.uniqueName(): parameter 'namePrefix' must be string, not an int"),
    ("[contoso.object('x')]", "contoso.object(): parameter 'n' must be int, not a string"),
])
def test_user_defined_function_limits(expression: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        scope(UDF).evaluate(expression)
    assert message in str(caught.value)


def test_language_version_2_functions_may_call_each_other() -> None:
    assert scope({**UDF, "languageVersion": "2.0"}).evaluate("[contoso.callsOther()]") == "a-pg"


# -- parameter files and -p


def test_load_parameters_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"name": {"value": "pg1"}, "size": {"value": 32, "metadata": {"note": "GiB"}},
                       "pw": {"reference": {"keyVault": {"id": "/kv"}, "secretName": "s"}}}}), encoding="utf-8-sig")
    assert load_parameters_file(path) == {"name": "pg1", "size": 32,
                                          "pw": {"reference": {"keyVault": {"id": "/kv"}, "secretName": "s"}}}


@pytest.mark.parametrize(("text", "message"), [
    ('{"parameters": {"a": {"valu": 1}}}', ":1:22: parameter 'a' needs exactly one of 'value' or 'reference'"),
    ('{"parameters": {"a": {"value": 1, "reference": {}}}}', ":1:22: parameter 'a' needs exactly one of 'value' or 'reference'"),
    ('{"parameters": []}', ":1:16: a parameters file is an object with a 'parameters' object"),
    ('{"parameters": {"a": {"value": 1}}', ":1:35: expected ',' or '}'"),
])
def test_bad_parameters_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_parameters_file(path)
    assert str(caught.value) == f"{path}{message}"


def test_an_unreadable_parameters_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the parameters file"):
        load_parameters_file(tmp_path / "missing.json")


INLINE = {"parameters": {"Name": {"type": "string"}, "count": {"type": "int"}, "on": {"type": "bool"},
                         "tags": {"type": "object"}, "zones": {"type": "array"}, "free": {}}}


@pytest.mark.parametrize(("assignment", "expected"), [
    ("name=[raw] 42", ("Name", "[raw] 42")),
    ("count=-3", ("count", -3)),
    ("on=True", ("on", True)),
    ('tags={"env": "prod"}', ("tags", {"env": "prod"})),
    ("zones=[1, 2]", ("zones", [1, 2])),
    ("free=[1]", ("free", [1])),
    ("free=just text", ("free", "just text")),
    ("name=a=b", ("Name", "a=b")),
])
def test_parse_inline(assignment: str, expected: tuple[str, Any]) -> None:
    assert parse_inline(assignment, INLINE) == expected


@pytest.mark.parametrize(("assignment", "message"), [
    ("name", "-p 'name': expected name=value"),
    ("nope=1", "-p nope: the template declares no such parameter (it declares: Name, count, free, on, tags, zones)"),
    ("count=1.5", "-p count: '1.5' is not an int"),
    ("on=yes", "-p on: 'yes' is not true or false"),
    ("tags=[1]", "-p tags: the value is an array, but the parameter is declared object"),
    ("zones=1,2", "-p zones: the value must be JSON"),
])
def test_parse_inline_errors(assignment: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_inline(assignment, INLINE)
    assert message in str(caught.value)
