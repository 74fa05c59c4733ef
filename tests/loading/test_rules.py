"""Rule loading: what loads, and a located error for everything that does not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine import ir
from policyengine.errors import RuleLoadErrors
from policyengine.loading.rules import load_rules
from policyengine.loading.schema import load_schema
from policyengine.operators import OPERATORS
from tests.conftest import rule_text

Write = Callable[[str, str], Path]

GOOD_SPEC = """
resource: Microsoft.DBforPostgreSQL/flexibleServers
related:
  rst:
    type: Microsoft.DBforPostgreSQL/flexibleServers/configurations
    name: require_secure_transport
    default: {properties: {value: "on"}}
condition:
  allOf:
    - {field: related.rst.properties.value, equals: on}
    - not: {field: "tags['data-class']", in: [secret, top-secret], caseSensitive: true}
    - {field: properties.disabledAlerts, count: {where: {field: "@", notEquals: ""}, equals: 0}}
"""


def load(path: Path) -> tuple[ir.Rule, ...]:
    return load_rules([path], include_bundled=False)


def errors_of(write: Write, text: str) -> list[str]:
    path = write("bad.yaml", text)
    with pytest.raises(RuleLoadErrors) as info:
        load(path)
    return [str(e).replace(str(path), "bad.yaml") for e in info.value.errors]


def test_good_rule_builds_the_ir(write: Write) -> None:
    (rule,) = load(write("r.yaml", rule_text(GOOD_SPEC)))
    assert rule.id == "T-001"
    assert rule.metadata.severity is ir.Severity.HIGH
    assert rule.related[0].key == ("microsoft.dbforpostgresql/flexibleservers/configurations",
                                   "require_secure_transport")
    assert isinstance(rule.condition, ir.AllOf)
    first, second, third = rule.condition.items
    assert isinstance(first, ir.Compare) and first.value == "on" and first.path.is_related
    assert isinstance(second, ir.Not) and isinstance(second.item, ir.Compare)
    assert second.item.path.segments == ("tags", "data-class")
    assert second.item.value == ("secret", "top-secret") and second.item.case_sensitive
    assert isinstance(third, ir.Count) and third.op == "equals" and third.value == 0
    assert rule.on_missing is ir.OnMissing.UNKNOWN


def test_spans_do_not_count_in_equality(write: Write) -> None:
    (a,) = load(write("a.yaml", rule_text(GOOD_SPEC)))
    (b,) = load(write("b/b.yaml", "\n\n" + rule_text(GOOD_SPEC)))
    assert a.span != b.span
    assert a == b


def test_several_rules_per_file_and_directories(write: Write, tmp_path: Path) -> None:
    spec = "resource: Microsoft.DBforPostgreSQL/servers\ncondition: {field: name, exists: true}"
    write("d/one.yaml", rule_text(spec, rule_id="A-1") + "---\n" + rule_text(spec, rule_id="A-2"))
    write("d/sub/two.yml", rule_text(spec, rule_id="B-1"))
    write("d/notes.txt", "not a rule")
    write("d/x.tests.yaml", "not: [a rule")
    rules = load(tmp_path / "d")
    assert [r.id for r in rules] == ["A-1", "A-2", "B-1"]


BASE = "resource: Microsoft.DBforPostgreSQL/flexibleServers\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a: [1\n", ["bad.yaml:2:1: invalid YAML: did not find expected ',' or ']'"],
                     id="bad-yaml"),
        pytest.param(rule_text(BASE + "condition: {field: name, exists: true}").replace(
            "  title: A test rule\n", "  title: A test rule\n  title: again\n"),
            ["bad.yaml:6:3: duplicate key 'title' (first defined at line 5)"], id="duplicate-key"),
        pytest.param(rule_text(BASE + "condition: {field: name, equal: x}"),
                     ["bad.yaml:11:28: spec.condition: unknown operator 'equal' (did you mean 'equals'?)"],
                     id="unknown-operator"),
        pytest.param(rule_text(BASE + "condition:\n  allOf:\n    - {field: name, equals: x, in: [y]}"),
                     ["bad.yaml:13:9: spec.condition.allOf[0]: more than one operator (equals, in); use one per condition"],
                     id="two-operators"),
        pytest.param(rule_text(BASE + "condition: {field: name}"),
                     ["bad.yaml:11:14: spec.condition: no operator; use one of: equals, notEquals, in, notIn, exists, hasValue, contains, notContains, startsWith, endsWith, match, greater, greaterOrEquals, less, lessOrEquals, count"],
                     id="no-operator"),
        pytest.param(rule_text(BASE + "condition: {field: name, match: '[a-'}"),
                     ["bad.yaml:11:35: spec.condition.match: bad regular expression '[a-': missing ]: [a-"],
                     id="bad-regex"),
        pytest.param(rule_text(BASE + "condition: {field: name, exists: true}", severity="hgh"),
                     ["bad.yaml:6:13: metadata.severity: 'hgh' is not one of ['critical', 'high', 'medium', 'low', 'info']"],
                     id="bad-severity"),
        pytest.param(rule_text(BASE + "condition: {field: name, exists: true}").replace("  title: A test rule\n", ""),
                     ["bad.yaml:4:3: metadata: missing required key 'title'"], id="missing-key"),
        pytest.param(rule_text(BASE + "conditon: {field: name, exists: true}"),
                     ["bad.yaml:10:3: spec: missing required key 'condition'",
                      "bad.yaml:11:3: spec: unknown key 'conditon' (did you mean 'condition'?)"],
                     id="misspelt-key"),
        pytest.param(rule_text(BASE + "condition: {field: related.nope.properties.value, equals: x}"),
                     ["bad.yaml:11:22: spec.condition.field: 'nope' is not declared in spec.related (none declared)"],
                     id="undeclared-related"),
        pytest.param(rule_text(BASE + "condition: {field: 'properties..x', equals: x}"),
                     ["bad.yaml:11:22: spec.condition.field: bad field path 'properties..x': unexpected '.' at position 12"],
                     id="bad-path"),
        pytest.param(rule_text(BASE + "condition: {field: '@', equals: x}"),
                     ["bad.yaml:11:22: spec.condition.field: '@' (the current element) is only meaningful inside count.where"],
                     id="element-outside-count"),
        pytest.param(rule_text(BASE + "related:\n  p: {type: Microsoft.Security/pricings, name: X}\n"
                               "condition: {field: related.p.properties.pricingTier, equals: Standard}"),
                     ["bad.yaml:12:15: spec.related.p.type: a child of Microsoft.DBforPostgreSQL/flexibleServers must have a type under it (e.g. Microsoft.DBforPostgreSQL/flexibleServers/configurations); use scope: subscription for subscription-level resources"],
                     id="child-type-not-under-resource"),
        pytest.param(rule_text(BASE + "condition: {field: name, greater: ten}"),
                     ["bad.yaml:11:37: spec.condition.greater: 'ten' is not of type 'number'"], id="bad-operand"),
        pytest.param(rule_text(BASE + "condition: {field: name, exists: true}\n"
                               "tests:\n  - {name: t, resource: {}, related: {x: {}}, expect: pass}"),
                     ["bad.yaml:13:41: spec.tests[0].related.x: 'x' is not declared in spec.related"],
                     id="test-related-undeclared"),
        pytest.param("- just\n- a list\n", ["bad.yaml:1:1: a rule must be a mapping"], id="not-a-mapping"),
    ],
)
def test_load_errors_are_located(write: Write, text: str, expected: list[str]) -> None:
    assert errors_of(write, text) == expected


def test_duplicate_rule_id_names_both_places(write: Write, tmp_path: Path) -> None:
    spec = BASE + "condition: {field: name, exists: true}"
    write("d/a.yaml", rule_text(spec, rule_id="X-1"))
    write("d/b.yaml", rule_text(spec, rule_id="x-1"))
    with pytest.raises(RuleLoadErrors) as info:
        load(tmp_path / "d")
    (message,) = [str(e) for e in info.value.errors]
    assert message.endswith("b.yaml:4:7: metadata.id: duplicate rule id 'x-1' "
                            f"(first defined at {tmp_path / 'd' / 'a.yaml'}:4:7)")


def test_every_problem_of_a_file_is_reported(write: Write) -> None:
    text = (rule_text(BASE + "condition: {field: name, equal: x}", rule_id="A")
            + "---\n" + rule_text(BASE + "condition: {field: name, exists: maybe}", rule_id="B"))
    assert len(errors_of(write, text)) == 2


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadErrors, match="no such rule file or directory"):
        load(tmp_path / "absent")


def test_schema_operator_list_equals_the_operator_table() -> None:
    schema = load_schema("rule.schema.json")
    compare = schema["$defs"]["compare"]
    in_properties = set(compare["properties"]) - {"field", "caseSensitive", "onMissing"}
    in_one_of = {alt["required"][0] for alt in compare["oneOf"]}
    assert in_properties == set(OPERATORS) == in_one_of


def test_schema_is_a_valid_2020_12_schema() -> None:
    import jsonschema

    schema = load_schema("rule.schema.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\\1", "RE2 syntax does not support backreferences (\\1 ... \\9)"),
        ("(?P<x>a)(?P=x)", "RE2 syntax does not support named backreferences ((?P=name))"),
        ("pg-(?=prod)", "RE2 syntax does not support lookahead ((?=...), (?!...))"),
        ("pg-(?!prod).*", "RE2 syntax does not support lookahead ((?=...), (?!...))"),
        ("(?<=pg-)x", "RE2 syntax does not support lookbehind ((?<=...), (?<!...))"),
        ("(?<!pg-)x", "RE2 syntax does not support lookbehind ((?<=...), (?<!...))"),
        ("(?>a+)b", "RE2 syntax does not support atomic groups ((?>...))"),
        ("a++b", "RE2 syntax does not support possessive quantifiers (*+, ++, ?+)"),
        (r"pg\\Z", "RE2 syntax does not support \\Z (write \\z for the end of the text)"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("(a", "missing ): (a"),
    ],
)
def test_a_pattern_re2_cannot_run_is_a_located_load_error(write: Write, pattern: str, reason: str) -> None:
    """``match`` is evaluated by RE2 (linear time) and compiled to KQL's ``matches regex``
    (RE2 too): a pattern either cannot run is refused where it is written."""
    (message,) = errors_of(write, rule_text(BASE + f'condition: {{field: name, match: "{pattern}"}}'))
    shown = repr(pattern.replace("\\\\", "\\"))
    assert message == f"bad.yaml:11:35: spec.condition.match: bad regular expression {shown}: {reason}"


def test_a_pattern_that_backtracks_elsewhere_loads_and_runs_in_linear_time(write: Write) -> None:
    (rule,) = load(write("r.yaml", rule_text(BASE + 'condition: {field: name, match: "(a+)+b"}\n'
                                             'tests:\n  - {name: t, resource: {name: "pg"}, expect: fail}')))
    assert isinstance(rule.condition, ir.Compare) and rule.condition.value == "(a+)+b"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".nan", "bad.yaml:11:34: NaN is not a number JSON can hold; write a finite number"),
        (".inf", "bad.yaml:11:34: '.inf' (infinite) is not a number JSON can hold; write a finite number"),
        ("1" * 5000, "bad.yaml:11:34: an integer of 5000 digits: at most 4300 are read"),
    ],
)
def test_a_value_json_cannot_hold_is_a_located_load_error(write: Write, value: str, message: str) -> None:
    """A rule compares with what the reports can write back: NaN would also make every
    comparison false, so it is refused rather than given a meaning."""
    assert errors_of(write, rule_text(BASE + f"condition: {{field: name, less: {value}}}")) == [message]


@pytest.mark.parametrize("text", ["", "\n\n", "# every rule commented out\n# apiVersion: policyengine/v1\n", "---\n"])
def test_an_empty_rule_file_is_an_error(write: Write, text: str) -> None:
    assert errors_of(write, text) == ["bad.yaml:1:1: the file holds no rule (it is empty or only comments)"]


def test_a_rule_directory_without_rule_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "README.md").write_text("no rules here")
    with pytest.raises(RuleLoadErrors) as info:
        load(tmp_path / "rules")
    assert str(info.value) == f"{tmp_path / 'rules'}: no rule files (*.yaml, *.yml) in this directory"


def test_a_rule_file_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(rule_text(BASE + "condition: {field: name, equals: x}").encode() + b"# \xff\n")
    with pytest.raises(RuleLoadErrors) as info:
        load(path)
    assert str(info.value) == f"{path}:12:3: not UTF-8 text: byte 0xff cannot be decoded (invalid start byte)"


def test_the_ir_walker_visits_every_node_in_written_order(write: Callable[[str, str], Path]) -> None:
    path = write("r.yaml", rule_text("""
        resource: Microsoft.DBforPostgreSQL/flexibleServers
        condition:
          anyOf:
            - {field: properties.a, equals: x}
            - not: {field: properties.b, exists: true}
            - {field: "properties.c", count: {where: {field: "@.d", equals: y}, greater: 0}}
    """))
    (rule,) = load(path)
    assert rule.condition is not None
    kinds = [type(node).__name__ for node in ir.walk(rule.condition)]
    assert kinds == ["AnyOf", "Compare", "Not", "Compare", "Count", "Compare"]
    assert [where for _, where in ir.children(rule.condition)] == [("anyOf", 0), ("anyOf", 1), ("anyOf", 2)]
    assert [p.text for p in ir.condition_paths(rule)] == ["properties.a", "properties.b", "properties.c", "@.d"]
