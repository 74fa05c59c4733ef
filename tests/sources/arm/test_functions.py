"""The ARM expression language: one table of expressions and what they evaluate to (a value,
an Unknown by its text, or an error by its message), then the scope's behaviour around them:
parameters, variables, copy loops, user-defined functions, spans and bounds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.sources.arm.expressions import (
    Call,
    ExpressionError,
    Index,
    Literal,
    Member,
    canonical,
    parse,
)
from policyengine.sources.arm.functions import FUNCTIONS
from policyengine.sources.arm.scope import Deployment, TemplateError, TemplateScope
from policyengine.unknown import Unknown, split_name


@dataclass(frozen=True)
class Unk:
    """An expected Unknown, by the expression it stands for."""

    text: str


@dataclass(frozen=True)
class Err:
    """An expected TemplateError, by a piece of its message."""

    message: str


TEMPLATE: dict[str, Any] = {
    "parameters": {
        "x": {"type": "string"},
        "n": {"type": "int", "defaultValue": 3},
        "o": {"type": "object", "defaultValue": {"a": {"b": [1, 2]}, "Key": "v", "nil": None}},
        "arr": {"type": "array", "defaultValue": ["one", "two", "three"]},
        "pw": {"type": "secureString", "defaultValue": "hunter2"},
    },
    "variables": {"v1": "[concat('a', variables('v2'))]", "v2": "b", "quote": "it''s", "lit": "[[x]"},
}

CASES: list[tuple[str, Any]] = [
    # literals, escapes, access
    ("'it''s'", "it's"),
    ("-42", -42),
    ("variables('quote')", "it''s"),  # '' is an escape only inside an expression
    ("variables('lit')", "[x]"),
    ("parameters('o').a.b[1]", 2),
    ("parameters('o')['a'].b", [1, 2]),
    ("parameters('o').KEY", "v"),
    ("parameters('o').nil", None),
    ("parameters('o').missing", Err("no property 'missing'")),
    ("parameters('arr')[3]", Err("index 3 is out of range for an array of 3 items")),
    ("parameters('arr')['x']", Err("cannot read property 'x' of an array")),
    ("parameters('x').a[0]", Unk("parameters('x').a[0]")),
    ("parameters('arr')[parameters('x')]", Unk("createArray('one', 'two', 'three')[parameters('x')]")),
    ("createObject('a', parameters('x'), 'b', 1).b", 1),
    # string
    ("concat('a', 'b', 1)", "ab1"),
    ("concat(createArray(1), createArray(2, 3))", [1, 2, 3]),
    ("concat(createArray(1), 'a')", Err("concat(): every argument (concat() of arrays) must be an array")),
    ("concat('pg-', parameters('x'))", Unk("concat('pg-', parameters('x'))")),
    ("format('{0}-{1:D3}-{2:N2}-{3:X}-{4}', 'a', 7, 1234, 255, true())", "a-007-1,234.00-FF-True"),
    ("format('{0:N0}|{0,8:F1}|{0,-6}|', 8175133)", "8,175,133|8175133.0|8175133|"),
    ("format('{0:000.00}|{1:#,##0}|{2:P1}|{3:E2}', 7, 1234567, json('0.256'), 1500)",
     "007.00|1,234,567|25.6 %|1.50E+003"),
    ("format('{{{0}}}', 'x')", "{x}"),
    ("format('{1}', 'a')", Err("format(): format item {1} has no argument")),
    ("format('{0', 'a')", Err("format(): invalid format item")),
    ("format('{0:D3}', parameters('x'))", Unk("format('{0:D3}', parameters('x'))")),
    ("format('{0:Q}', 1)", Err("format(): 'Q' is not a .NET numeric format")),
    ("format('{0:R}', 1)", Unk("format('{0:R}', 1)")),
    ("format('{0:#.0 kg}', 1)", Unk("format('{0:#.0 kg}', 1)")),
    ("format('{0}|{1}', json('2.0'), json('0.5'))", "2|0.5"),
    ("string(json('1e20'))", "1E+20"),
    ("string(createObject('a', 1, 'b', createArray(true(), null(), 'é')))", '{"a":1,"b":[true,null,"é"]}'),
    ("string(false())", "False"),
    ("string(parameters('x'))", Unk("string(parameters('x'))")),
    ("toUpper('abc')", "ABC"),
    ("toLower(parameters('x'))", Unk("toLower(parameters('x'))")),
    ("trim('  a b  ')", "a b"),
    ("startsWith('abc', 'AB')", True),
    ("endsWith('abc', 'B')", False),
    ("contains('abc', 'B')", False),
    ("indexOf('abcabc', 'BC')", 1),
    ("lastIndexOf('abcabc', 'BC')", 4),
    ("replace('a-b-c', '-', '')", "abc"),
    ("replace('abc', '', 'x')", Err("replace(): oldString must not be empty")),
    ("split('a;b,,c', createArray(',', ';'))", ["a", "b", "", "c"]),
    ("split('a b', '')", ["a", "b"]),
    ("substring('hello', 1, 3)", "ell"),
    ("substring('hello', 2)", "llo"),
    ("substring('hello', 3, 5)", Err("substring(): the index and length parameters must refer to a location")),
    ("padLeft(7, 3, '0')", "007"),
    ("padLeft('abcd', 2)", "abcd"),
    ("padLeft('a', 3, 'xy')", Err("padLeft(): paddingCharacter must be a single character")),
    ("join(createArray('a', 'b'), '/')", "a/b"),
    ("join(createArray('a', 1), '/')", Err("join(): every element must be a string, not an int")),
    ("join(createArray('srv', parameters('x')), '/')", Unk("concat('srv/', parameters('x'))")),
    ("base64ToString(base64('héllo'))", "héllo"),
    ("base64ToString('***')", Err("base64ToString(): the value is not valid base64")),
    ("dataUriToString(dataUri('hi'))", "hi"),
    ("dataUriToString('data:,a%20b')", "a b"),
    ("uri('http://contoso.org/firstpath', 'myscript.sh')", "http://contoso.org/myscript.sh"),
    ("uri('http://contoso.org/firstpath/', '/myscript.sh')", "http://contoso.org/firstpath/myscript.sh"),
    ("uriComponent('a b/c~')", "a%20b%2Fc~"),
    ("uriComponentToString('a%20b')", "a b"),
    ("uniqueString('a', 'b')", Unk("uniqueString('a', 'b')")),
    ("guid(subscription().subscriptionId)", Unk("guid(subscription().subscriptionId)")),
    ("uniqueString(1)", Err("uniqueString(): every argument must be a string")),
    # arrays and objects
    ("array('a')", ["a"]),
    ("array(parameters('x'))", Unk("array(parameters('x'))")),
    ("createArray(parameters('x'), 1)", [Unk("parameters('x')"), 1]),
    ("length(createArray(parameters('x'), 1))", 2),
    ("length(parameters('o'))", 3),
    ("length(1)", Err("length(): takes an array, object or string, not an int")),
    ("first(createArray(parameters('x'), 1))", Unk("parameters('x')")),
    ("last(createArray(parameters('x'), 1))", 1),
    ("first(createArray())", None),
    ("last('')", ""),
    ("take(createArray(1, 2, 3), -1)", []),
    ("skip('abc', 5)", ""),
    ("skip(createArray(parameters('x'), 2), 1)", [2]),
    ("empty(null())", True),
    ("empty(createArray(parameters('x')))", False),
    ("empty(0)", Err("empty(): takes an array, object or string, not an int")),
    ("contains(createObject('Key', 1), 'key')", True),
    ("contains(createArray(1, '2'), 2)", False),
    ("contains(createArray(createArray(1)), createArray(1))", True),
    ("indexOf(createArray('a', 'A'), 'A')", 1),
    ("createObject('a')", Err("createObject(): takes keys and values in pairs")),
    ("createObject(1, 2)", Err("createObject(): every key must be a string, not an int")),
    ("union(createArray(1, 2), createArray(2, 3, 1))", [1, 2, 3]),
    ("union(createArray(true(), 1), createArray(1))", [True, 1]),
    ("union(createObject('a', createObject('x', 1)), createObject('A', createObject('y', 2)))",
     {"a": {"x": 1, "y": 2}}),
    ("union(createObject('a', 1), createArray(1))", Err("union(): takes arrays or objects, not a mix")),
    ("union(createObject('a', parameters('x')), createObject('a', createObject('b', 1)))",
     {"a": Unk("union(parameters('x'), createObject('b', 1))")}),
    ("intersection(createArray(1, 2, 2, 3), createArray(3, 2))", [2, 3]),
    ("intersection(createObject('a', 1, 'b', 2), createObject('a', 1, 'b', 3))", {"a": 1}),
    ("items(createObject('b', 1, 'a', 2))", [{"key": "a", "value": 2}, {"key": "b", "value": 1}]),
    ("objectKeys(createObject('b', 1, 'a', 2))", ["b", "a"]),
    ("shallowMerge(createArray(createObject('a', createObject('x', 1)), createObject('a', createObject('y', 2))))",
     {"a": {"y": 2}}),
    ("flatten(createArray(createArray(1), createArray(2, 3)))", [1, 2, 3]),
    ("tryGet(parameters('o'), 'a', 'b', 1)", 2),
    ("tryGet(parameters('o'), 'a', 'zz')", None),
    ("tryGet(parameters('x'), 'a')", Unk("tryGet(parameters('x'), 'a')")),
    ("json('{\"a\": [1, 2.5, true, null]}')", {"a": [1, 2.5, True, None]}),
    ("json('null')", None),
    ("json('{''a'': ''b''}')", {"a": "b"}),
    ("json('{')", Err("json(): invalid JSON")),
    ("json('99999999999999999999')", Err("json(): invalid JSON: an integer outside the 64-bit range")),
    ("range(5, 3)", [5, 6, 7]),
    ("range(0, 10001)", Err("range(): numberOfElements must be from 0 to 10000")),
    ("range(2147483647, 1)", Err("range(): startIndex + numberOfElements must not exceed 2147483647")),
    # lambdas
    ("map(range(0, 3), lambda('i', mul(lambdaVariables('i'), 2)))", [0, 2, 4]),
    ("filter(parameters('arr'), lambda('s', startsWith(lambdaVariables('s'), 't')))", ["two", "three"]),
    ("reduce(range(1, 4), 0, lambda('a', 'b', add(lambdaVariables('a'), lambdaVariables('b'))))", 10),
    ("sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))", [1, 2, 3]),
    ("toObject(parameters('arr'), lambda('s', toUpper(lambdaVariables('s'))))",
     {"ONE": "one", "TWO": "two", "THREE": "three"}),
    ("groupBy(parameters('arr'), lambda('s', first(lambdaVariables('s'))))", {"o": ["one"], "t": ["two", "three"]}),
    ("mapValues(createObject('a', 1), lambda('v', add(lambdaVariables('v'), 1)))", {"a": 2}),
    ("map(createArray(parameters('x')), lambda('s', toLower(lambdaVariables('s'))))", [Unk("toLower(parameters('x'))")]),
    ("filter(createArray(parameters('x')), lambda('s', equals(lambdaVariables('s'), 'a')))",
     Unk("filter(createArray(parameters('x')), lambda('s', equals(lambdaVariables('s'), 'a')))")),
    ("lambda('x', 1)", Err("lambda(): can only be an argument of filter")),
    ("map(createArray(1), 1)", Err("map(): the last argument must be lambda(...)")),
    ("lambdaVariables('nope')", Err("lambdaVariables(): no enclosing lambda declares 'nope'")),
    # logic and comparison
    ("if(true(), 'yes', div(1, 0))", "yes"),  # only the branch taken is evaluated
    ("if(equals(parameters('x'), 'a'), 'y', 'n')", Unk("if(equals(parameters('x'), 'a'), 'y', 'n')")),
    ("if(equals(parameters('x'), 'a'), 'same', 'same')", "same"),
    ("if(1, 'a', 'b')", Err("if(): the condition must be a bool, not an int")),
    ("and(false(), parameters('x'))", False),
    ("and(parameters('x'), false())", False),
    ("or(equals(parameters('x'), 'a'), true())", True),
    ("and(true(), equals(parameters('x'), 'a'))", Unk("and(true(), equals(parameters('x'), 'a'))")),
    ("not(1)", Err("not(): the argument must be a bool, not an int")),
    ("coalesce(null(), parameters('o').nil, 'a', parameters('x'))", "a"),
    ("coalesce(null(), parameters('x'), 'a')", Unk("coalesce(null(), parameters('x'), 'a')")),
    ("coalesce(null(), null())", None),
    ("bool('True')", True),
    ("bool(0)", False),
    ("bool('yes')", Err("bool(): cannot convert a string 'yes' to a bool")),
    ("equals(1, '1')", False),
    ("equals(true(), 1)", False),
    ("equals(createObject('a', createArray(1)), json('{\"a\": [1]}'))", True),
    ("equals('a', 'A')", False),
    ("equals(parameters('x'), 'a')", Unk("equals(parameters('x'), 'a')")),
    ("greater('A', 'a')", True),
    ("less('a', 'B')", True),
    ("lessOrEquals(2, 2)", True),
    ("greaterOrEquals(1, 2)", False),
    ("less(1, 'a')", Err("less(): can only compare two ints or two strings, not an int and a string")),
    # numbers
    ("add(9223372036854775807, 1)", Err("add(): the result overflows a 64-bit integer")),
    ("sub(-9223372036854775807, 1)", -9223372036854775808),
    ("mul(3, -4)", -12),
    ("div(-7, 2)", -3),
    ("div(7, -2)", -3),
    ("mod(-7, 2)", -1),
    ("mod(7, -2)", 1),
    ("div(1, 0)", Err("div(): division by zero")),
    ("mod(1, 0)", Err("mod(): division by zero")),
    ("add('1', 2)", Err("add(): operand1 must be an int, not a string")),
    ("min(createArray(3, 1, 2))", 1),
    ("max(3, 9, 4)", 9),
    ("max(createArray())", Err("max(): needs at least one integer")),
    ("int('-4')", -4),
    ("int('4.5')", Err("int(): cannot convert a string to an int: '4.5' is not an integer")),
    ("int(json('2.5'))", 2),
    ("float('1.5')", 1.5),
    ("copyIndex()", Err("copyIndex(): used outside a copy loop")),
    # dates and CIDR
    ("dateTimeAdd('2020-04-07 14:53:14Z', '-P9D')", "2020-03-29T14:53:14Z"),
    ("dateTimeAdd('2020-04-07T14:53:14+02:00', 'PT1H30M')", "2020-04-07T16:23:14+02:00"),
    ("dateTimeAdd('2020-04-07T14:53:14Z', 'P1W', 'yyyy-MM-dd HH:mm:ss')", "2020-04-14 14:53:14"),
    ("dateTimeAdd('2020-04-07T14:53:14Z', 'PT0S', 'u')", "2020-04-07 14:53:14Z"),
    ("dateTimeAdd('2020-04-07T14:53:14Z', 'PT0S', 'ddd, dd MMM yyyy h tt')", "Tue, 07 Apr 2020 2 PM"),
    ("dateTimeAdd('2020-04-07', 'P1D')", "2020-04-08T00:00:00"),
    ("dateTimeAdd('yesterday', 'P1D')", Err("dateTimeAdd(): base 'yesterday' is not an ISO 8601 datetime")),
    ("dateTimeAdd('2020-04-07', '1D')", Err("dateTimeAdd(): duration '1D' is not an ISO 8601 duration")),
    ("dateTimeFromEpoch(1683040573)", "2023-05-02T15:16:13Z"),
    ("dateTimeToEpoch('2023-05-02T15:16:13Z')", 1683040573),
    ("utcNow()", Err("utcNow(): can only be used in the default value of a parameter")),
    ("cidrSubnet('10.0.0.0/16', 24, 255)", "10.0.255.0/24"),
    ("cidrSubnet('10.0.0.0/16', 24, 256)", Err("cidrSubnet(): subnetIndex must be from 0 to 255")),
    ("cidrSubnet('10.0.0.0/16', 8, 0)", Err("cidrSubnet(): newCIDR must be from 16 to 32")),
    ("cidrHost('10.0.0.0/30', 1)", "10.0.0.2"),
    ("cidrHost('10.0.0.0/30', 2)", Err("cidrHost(): hostIndex 2 is outside the range's 2 usable hosts")),
    ("parseCidr('10.1.2.3')", Err("parseCidr(): '10.1.2.3' is not in CIDR notation")),
    ("parseCidr('10.0.0.7/31').firstUsable", "10.0.0.6"),
    # deployment context and runtime values
    ("resourceGroup().location", Unk("resourceGroup().location")),
    ("subscription().id", Unk("concat('/subscriptions/', subscription().subscriptionId)")),
    ("deployment().name", Unk("deployment().name")),
    ("deployment().properties.templateLink.uri", Unk("deployment().properties.templateLink.uri")),
    ("environment().suffixes.sqlServerHostname", ".database.windows.net"),
    ("deployer().objectId", Unk("deployer().objectId")),
    ("reference('pg').fullyQualifiedDomainName", Unk("reference('pg').fullyQualifiedDomainName")),
    ("listKeys('sa', '2023-01-01').keys[0].value", Unk("listKeys('sa', '2023-01-01').keys[0].value")),
    ("references('workers', 'full')", Unk("references('workers', 'full')")),
    ("providers('Microsoft.Web', 'sites').locations", Unk("providers('Microsoft.Web', 'sites').locations")),
    ("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')",
     Unk("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')")),
    ("tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p1')",
     "/providers/Microsoft.Authorization/policyDefinitions/p1"),
    ("managementGroupResourceId('mg', 'Microsoft.Authorization/policyDefinitions', 'p1')",
     "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/policyDefinitions/p1"),
    ("resourceId('s1', 'rg', 'Microsoft.Sql/servers/databases', 'srv', 'db')",
     "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Sql/servers/srv/databases/db"),
    ("resourceId('s1', 'rg', 'Microsoft.Sql/servers/databases', 'srv/db')",
     "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Sql/servers/srv/databases/db"),
    ("resourceId('Microsoft.Sql/servers/databases', 'srv')", Err("resourceId(): the type 'Microsoft.Sql/servers/databases' needs 2 resource name(s), not 1")),
    ("resourceId('rg', 'srv')", Err("resourceId(): no resource type")),
    ("extensionResourceId('/subscriptions/s1', 'Microsoft.Authorization/locks', 'l')",
     "/subscriptions/s1/providers/Microsoft.Authorization/locks/l"),
    ("subscriptionResourceId('s1', 'Microsoft.Security/pricings', 'OpenSourceRelationalDatabases')",
     "/subscriptions/s1/providers/Microsoft.Security/pricings/OpenSourceRelationalDatabases"),
    # names, arity, unsupported
    ("TOLOWER('A')", "a"),
    ("toLower('a', 'b')", Err("toLower() takes 1 argument, not 2")),
    ("concat()", Err("concat() takes at least 1 argument, not 0")),
    ("substring()", Err("substring() takes 1 to 3 arguments, not 0")),
    ("fooBar(1, parameters('x'))", Unk("fooBar(1, parameters('x'))")),
    ("ns.fn(1)", Err("ns.fn(): the template defines no such user-defined function")),
    ("parameters('nope')", Err("parameters('nope'): the template declares no parameter 'nope' (it declares: arr, n, o, pw, x)")),
    ("variables('nope')", Err("variables('nope'): the template declares no variable 'nope'")),
    ("variables('v1')", "ab"),
]


def evaluate(text: str, template: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    scope = TemplateScope(template or TEMPLATE, kwargs.get("values", {}), kwargs.get("deployment", Deployment()),
                          "t.json")
    return scope.evaluate(text)


def matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Unk):
        return isinstance(actual, Unknown) and actual.text == expected.text
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and all(
            matches(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            matches(a, e) for a, e in zip(actual, expected, strict=True))
    return type(actual) is type(expected) and bool(actual == expected)


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_expression(expression: str, expected: Any) -> None:
    if isinstance(expected, Err):
        with pytest.raises(TemplateError) as caught:
            evaluate(f"[{expression}]")
        assert expected.message in str(caught.value)
    else:
        actual = evaluate(f"[{expression}]")
        assert matches(actual, expected), f"got {actual!r}"


def test_every_function_in_the_table_has_a_case() -> None:
    """Each function is exercised by this table or by a documented conformance case."""
    from tests.sources.arm.test_conformance import CASES as DOCUMENTED

    def names(expr: Any) -> Iterator[str]:
        if isinstance(expr, Call):
            yield expr.name.lower()
            for arg in expr.args:
                yield from names(arg)
        elif isinstance(expr, Member):
            yield from names(expr.base)
        elif isinstance(expr, Index):
            yield from names(expr.base)
            yield from names(expr.index)

    covered = {n for text, _ in CASES for n in names(parse(text))}
    covered |= {n.lower() for case in DOCUMENTED.values() for n in case["usesFunctions"]}
    assert set(FUNCTIONS) - covered == set()


# -- parsing


@pytest.mark.parametrize(("text", "expected"), [
    ("TOLOWER( Parameters( 'a' ) ).b['c-d'][0]", "toLower(parameters('a')).b['c-d'][0]"),
    ("concat('it''s',-1)", "concat('it''s', -1)"),
    ("x.fn(1)", "x.fn(1)"),
    ("listkeys('a')", "listkeys('a')"),
    ("ListKeys('a')", "listKeys('a')"),
    ("reference('a')['properties']", "reference('a').properties"),
])
def test_canonical(text: str, expected: str) -> None:
    assert canonical(parse(text)) == expected


def test_the_syntax_tree() -> None:
    assert parse("a.b(1)[ 'k' ].p") == Member(Index(Call("a.b", (Literal(1),)), Literal("k")), "p")


@pytest.mark.parametrize(("text", "message", "offset"), [
    ("concat('a'", "expected ',' or ')', found end of expression", 10),
    ("'open", "unterminated string", 0),
    ("true", "expected '(' after the function name 'true'; write true()", 4),
    ("concat('a',)", "expected a value, found ')'", 11),
    ("1.5", "use json('1.5')", 0),
    ("f(1) g", "unexpected name 'g' after the expression", 5),
    ("f().", "expected a property name after '.'", 4),
    ("a.", "expected '(' after the function name 'a'", 1),
    ("f(#)", "unexpected character '#'", 2),
    ("²", "unexpected character '²'", 0),
    ("99999999999999999999", "integer out of the 64-bit range", 0),
    ("", "empty expression", 0),
])
def test_parse_errors(text: str, message: str, offset: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert message in str(caught.value)
    assert caught.value.offset == offset


def test_escaped_and_literal_strings() -> None:
    assert evaluate("[[not an expression]") == "[not an expression]"
    assert evaluate("[test] value") == "[test] value"
    assert evaluate("[") == "["
    assert evaluate("plain") == "plain"
    with pytest.raises(TemplateError, match="empty expression"):
        evaluate("[]")


def test_deep_nesting_is_a_clear_error_not_a_recursion_error() -> None:
    with pytest.raises(TemplateError, match="nested more than 100 deep"):
        evaluate("[" + "not(" * 4000 + "true()" + ")" * 4000 + "]")
    with pytest.raises(TemplateError, match="longer than ARM's limit of 24576 characters"):
        evaluate("[" + "concat(" * 5000 + "'a'" + ", 'b')" * 5000 + "]")
    chain = {f"v{i}": f"[variables('v{i + 1}')]" for i in range(3000)} | {"v3000": "end"}
    with pytest.raises(TemplateError, match="nest more than 150 deep"):
        evaluate("[variables('v0')]", {"variables": chain})
    assert evaluate("[" + "if(true(), " * 100 + "'x'" + ", 'y')" * 100 + "]") == "x"


@pytest.mark.parametrize(("expression", "message"), [
    ("range(0, 100000000)", "numberOfElements must be from 0 to 10000"),
    ("padLeft('a', 1000000000)", "longer than 1,000,000 characters"),
    ("replace(padLeft('', 600000, 'a'), 'a', 'aa')", "longer than 1,000,000 characters"),
    ("reduce(range(0, 100), createArray(), lambda('a', 'x', createArray(lambdaVariables('a'))))",
     "a value nests more than 64 deep"),
    ("map(range(0, 10000), lambda('i', replace(padLeft('', 900000, 'a'), 'a', 'b')))",
     "more than 2,000,000 evaluation steps"),
])
def test_hostile_sizes_are_bounded(expression: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        evaluate(f"[{expression}]")


def test_doubling_variables_are_bounded() -> None:
    strings = {"s0": "ab"} | {f"s{i}": f"[concat(variables('s{i - 1}'), variables('s{i - 1}'))]" for i in range(1, 40)}
    with pytest.raises(TemplateError, match="longer than 1,000,000 characters"):
        evaluate("[variables('s39')]", {"variables": strings})
    shared = {"a0": [1]} | {f"a{i}": f"[createArray(variables('a{i - 1}'), variables('a{i - 1}'))]" for i in range(1, 40)}
    with pytest.raises(TemplateError, match=r"evaluation steps|nest"):
        evaluate("[string(variables('a39'))]", {"variables": shared})


# -- unknowns keep their pieces


def test_what_this_scanner_cannot_compute_is_noted_and_unknown_is_not() -> None:
    current = TemplateScope(TEMPLATE, {}, Deployment(), "t.json")
    assert isinstance(current.evaluate("[format('{0:D3}', parameters('x'))]"), Unknown)
    assert current.notes == []  # unknown before deployment is not a gap of the scanner
    current.evaluate("[format('{0:R}', 1)]")
    assert current.notes == ["t.json: format(): the numeric format R is not supported by this scanner"]


def test_a_name_built_from_an_unknown_splits_on_its_slash() -> None:
    value = evaluate("[format('{0}/require_secure_transport', parameters('x'))]")
    assert isinstance(value, Unknown)
    assert value.text == "concat(parameters('x'), '/require_secure_transport')"
    assert value.parts == (Unknown("parameters('x')", ""), "/require_secure_transport")
    assert split_name(value) == [Unknown("parameters('x')", ""), "require_secure_transport"]
    assert evaluate("[concat(parameters('x'), '/conf')]").parts[1] == "/conf"


def test_deployment_context_fills_ids() -> None:
    known = Deployment(subscription_id="s1", resource_group="rg", location="westeurope", tenant_id="t1",
                       deployment_name="main")
    assert evaluate("[resourceId('Microsoft.DBforPostgreSQL/flexibleServers', 'pg')]", deployment=known) \
        == "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg"
    assert evaluate("[resourceGroup()]", deployment=known)["id"] == "/subscriptions/s1/resourceGroups/rg"
    assert evaluate("[resourceGroup().location]", deployment=known) == "westeurope"
    assert evaluate("[subscription().tenantId]", deployment=known) == "t1"
    assert evaluate("[deployment().name]", deployment=known) == "main"
    unknown_group = evaluate("[resourceId('Microsoft.DBforPostgreSQL/flexibleServers', parameters('x'))]",
                             deployment=Deployment(subscription_id="s1"))
    assert split_name(unknown_group) == ["", "subscriptions", "s1", "resourceGroups", Unknown("resourceGroup().name", ""),
                                         "providers", "Microsoft.DBforPostgreSQL", "flexibleServers",
                                         Unknown("parameters('x')", "")]


def test_subscription_scope_templates_build_subscription_ids() -> None:
    template = {"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"}
    assert evaluate("[resourceId('Microsoft.Security/pricings', 'p')]", template,
                    deployment=Deployment(subscription_id="s1")) == "/subscriptions/s1/providers/Microsoft.Security/pricings/p"


# -- robustness: anything a template holds is a value or a TemplateError, never another exception


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="()[],.' \tabcfnotru01-_$", max_size=40))
def test_any_text_parses_or_is_an_expression_error(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError:
        return
    assert canonical(parse(canonical(expr))) == canonical(expr)


_NAMES = st.sampled_from(["concat", "if", "and", "createArray", "length", "first", "union", "json", "string",
                          "parameters", "toLower", "range", "contains", "coalesce", "equals", "format", "empty"])
_ATOMS = st.sampled_from(["'a'", "1", "-1", "0", "true()", "null()", "parameters('x')", "parameters('o')",
                          "parameters('arr')", "'{0}'", "'[1]'", "createObject('a', 1)"])


def _expressions(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return _ATOMS
    inner = _expressions(depth - 1)
    calls = st.builds(lambda n, args: f"{n}({', '.join(args)})", _NAMES, st.lists(inner, max_size=3))
    access = st.builds(lambda base, key: f"{base}{key}", inner, st.sampled_from([".a", "[0]", "['b']"]))
    return st.one_of(inner, calls, access)


@settings(max_examples=300, deadline=None)
@given(_expressions(3))
def test_any_expression_evaluates_or_is_a_template_error(text: str) -> None:
    try:
        value = evaluate(f"[{text}]")
    except TemplateError:
        return
    assert is_value(value), value


def is_value(value: Any) -> bool:
    """A JSON value, possibly holding unknowns."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_value(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_value(v) for v in value)
    return value is None or isinstance(value, str | int | float | Unknown)


@pytest.mark.parametrize("template", [
    {"parameters": {"p": "string"}, "outputs": {"o": {"type": "string", "value": "[parameters('p')]"}}},
    {"parameters": ["p"], "outputs": {}},
    {"variables": {"copy": {"name": "x"}}},
    {"outputs": {"o": "[1]"}},
    {"outputs": {"o": {"type": "array", "copy": [1]}}},
    {"functions": {"ns": 1}},
    {"functions": [{"namespace": "ns", "members": ["f"]}]},
    {"functions": [{"namespace": "ns", "members": {"f": {"parameters": ["p"], "output": {}}}}]},
])
def test_a_malformed_template_is_a_template_error(template: dict[str, Any]) -> None:
    with pytest.raises(TemplateError):
        TemplateScope(template, {}, Deployment(), "t.json").outputs()
