"""Each lint check, table-driven: a minimal rule that triggers it (code, severity and the
``file:line:col`` of the token it points at) and the same rule corrected, which does not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from policyengine.lint import lint
from tests.conftest import rule_text

Write = Callable[[str, str], Path]

FLEX = "resource: Microsoft.DBforPostgreSQL/flexibleServers\n"
SINGLE = "resource: Microsoft.DBforPostgreSQL/servers\n"
#: Tests that make a condition on properties.state both pass and fail.
STATE_TESTS = """
tests:
  - {name: ready, resource: {properties: {state: Ready}}, expect: pass}
  - {name: stopped, resource: {properties: {state: Stopped}}, expect: fail}
"""
STATE = "condition: {field: properties.state, equals: Ready}\n"
CONFIGURATIONS = "Microsoft.DBforPostgreSQL/flexibleServers/configurations"
#: A minimum-TLS rule whose related parameter declares the default given to format().
TLS_WITH_DEFAULT = FLEX + """
related:
  tls:
    type: Microsoft.DBforPostgreSQL/flexibleServers/configurations
    name: ssl_min_protocol_version
    default: {{properties: {{value: {}}}}}
condition: {{field: related.tls.properties.value, in: [TLSv1.2, TLSv1.3]}}
"""


def related(alias: str, rtype: str, name: str, condition: str) -> str:
    """A flexible-server spec with one related resource and a one-line condition."""
    return FLEX + f"related: {{{alias}: {{type: {rtype}, name: {name}}}}}\ncondition: {condition}\n"



@dataclass(frozen=True)
class Case:
    name: str
    code: str
    severity: str
    bad: str
    #: The text the problem points at: its first occurrence in the rule file (after ``after``).
    at: str
    good: str
    message: str = ""
    after: str = ""


CASES = [
    Case("schema error: unknown operator", "PE001", "error",
         FLEX + "condition: {field: properties.state, equal: Ready}\n" + STATE_TESTS, "equal:",
         FLEX + STATE + STATE_TESTS, "did you mean 'equals'"),
    Case("type not in the catalog", "PE100", "warning",
         "resource: Microsoft.DBforPostgreSQL/flexibleServer\n" + STATE + STATE_TESTS,
         "Microsoft.DBforPostgreSQL/flexibleServer", FLEX + STATE + STATE_TESTS,
         "did you mean Microsoft.DBforPostgreSQL/flexibleServers?"),
    Case("type without a Resource Graph table", "PE100", "warning",
         "resource: Microsoft.DBforPostgreSQL/flexibleServers/configurations\n"
         "condition: {field: properties.value, equals: 'on'}\n"
         "tests:\n  - {name: on, resource: {properties: {value: 'on'}}, expect: pass}\n"
         "  - {name: off, resource: {properties: {value: 'off'}}, expect: fail}\n",
         "Microsoft.DBforPostgreSQL/flexibleServers/configurations", FLEX + STATE + STATE_TESTS,
         "no Resource Graph table"),
    Case("unknown path", "PE101", "warning",
         FLEX + "condition: {field: properties.stat, equals: Ready}\n" + STATE_TESTS, "properties.stat,",
         FLEX + STATE + STATE_TESTS, "did you mean properties.state?"),
    Case("unknown path of a related resource", "PE101", "warning",
         related("tls", CONFIGURATIONS, "ssl_min_protocol_version",
                 "{field: related.tls.properties.valeu, equals: TLSv1.2}") + """
tests:
  - {name: ok, resource: {}, related: {tls: {properties: {valeu: TLSv1.2}}}, expect: pass}
  - {name: bad, resource: {}, related: {tls: {properties: {valeu: TLSv1}}}, expect: fail}
""", "related.tls.properties.valeu",
         related("tls", CONFIGURATIONS, "ssl_min_protocol_version",
                 "{field: related.tls.properties.value, equals: TLSv1.2}") + """
tests:
  - {name: ok, resource: {}, related: {tls: {properties: {value: TLSv1.2}}}, expect: pass}
  - {name: bad, resource: {}, related: {tls: {properties: {value: TLSv1}}}, expect: fail}
""", "did you mean related.tls.properties.value?"),
    Case("value outside the allowed values", "PE102", "error",
         FLEX + "condition: {field: properties.network.publicNetworkAccess, equals: Enable}\n", "Enable}",
         FLEX + "condition: {field: properties.network.publicNetworkAccess, equals: disabled}\n",
         'did you mean "Enabled"?'),
    Case("server parameter value outside its allowed values", "PE102", "error",
         related("tls", CONFIGURATIONS, "ssl_min_protocol_version",
                 "{field: related.tls.properties.value, in: [TLSv1.2, TLSv1.4]}"), "TLSv1.4",
         related("tls", CONFIGURATIONS, "ssl_min_protocol_version",
                 "{field: related.tls.properties.value, in: [TLSv1.2, tlsv1.3]}"), '"TLSv1.4" is not a value of related.tls.properties.value'),
    Case("a string for an integer property", "PE102", "error",
         FLEX + "condition: {field: properties.backup.backupRetentionDays, equals: '35'}\n", "'35'",
         FLEX + "condition: {field: properties.backup.backupRetentionDays, equals: 35}\n",
         "is an integer"),
    Case("count of something that is not an array", "PE102", "error",
         FLEX + "condition: {field: properties.state, count: {equals: 0}}\n", "properties.state,",
         FLEX + "condition: {field: properties.privateEndpointConnections, count: {equals: 0}}\n",
         "count reads an array"),
    Case("single-server property on a flexible server", "PE103", "error",
         FLEX + "condition: {field: properties.sslEnforcement, equals: Enabled}\n", "properties.sslEnforcement",
         SINGLE + "condition: {field: properties.sslEnforcement, equals: Enabled}\n",
         "require_secure_transport"),
    Case("flexible-server property on a single server", "PE103", "error",
         SINGLE + "condition: {field: properties.network.publicNetworkAccess, equals: Disabled}\n",
         "properties.network.publicNetworkAccess",
         SINGLE + "condition: {field: properties.publicNetworkAccess, equals: Disabled}\n",
         "a single server has properties.publicNetworkAccess"),
    Case("single-server child under a flexible server", "PE103", "error",
         related("atp", "Microsoft.DBforPostgreSQL/flexibleServers/securityAlertPolicies", "Default",
                 "{field: related.atp.properties.state, equals: Enabled}"),
         "Microsoft.DBforPostgreSQL/flexibleServers/securityAlertPolicies",
         related("atp", "Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings", "Default",
                 "{field: related.atp.properties.state, equals: Enabled}"), "the equivalent here is Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings"),
    Case("anyOf that always holds", "PE104", "error",
         FLEX + """
condition:
  anyOf:
    - {field: sku.tier, equals: Burstable}
    - {field: sku.tier, notEquals: burstable}
""", "anyOf:",
         FLEX + """
condition:
  anyOf:
    - {field: sku.tier, equals: Burstable}
    - {field: sku.tier, equals: GeneralPurpose}
""", "every value of sku.tier satisfies one of its comparisons"),
    Case("allOf with contradictory equals", "PE104", "error",
         FLEX + """
condition:
  allOf:
    - {field: properties.version, equals: "16"}
    - {field: properties.version, equals: "17"}
""", "allOf:",
         FLEX + """
condition:
  allOf:
    - {field: properties.version, equals: "16"}
    - {field: properties.state, equals: Ready}
""", "no value of properties.version satisfies every comparison"),
    Case("in that covers every allowed value", "PE104", "error",
         FLEX + "condition: {field: properties.network.publicNetworkAccess, in: [Enabled, disabled]}\n",
         "{field: properties.network", FLEX + "condition: {field: properties.network.publicNetworkAccess, "
         "in: [Enabled]}\n", "in covers every value"),
    Case("not of an always-true condition", "PE104", "error",
         FLEX + "condition: {not: {field: sku.tier, notIn: [Basic]}}\n" +
         "where: {field: sku.tier, notIn: [Burstable, GeneralPurpose, MemoryOptimized]}\n",
         "{field: sku.tier, notIn: [Burstable", FLEX + STATE,
         "can never be true", after="where:"),
    Case("a count compared with a negative number", "PE104", "error",
         FLEX + "condition: {field: properties.privateEndpointConnections, count: {less: 0}}\n",
         "{field: properties.privateEndpointConnections",
         FLEX + "condition: {field: properties.privateEndpointConnections, count: {less: 1}}\n",
         "a count is a whole number from 0 up"),
    Case("no tests", "PE105", "warning", FLEX + STATE, "T-001", FLEX + STATE + STATE_TESTS, "has no tests"),
    Case("tests that never fail", "PE106", "warning",
         FLEX + STATE + "tests:\n  - {name: ready, resource: {properties: {state: Ready}}, expect: pass}\n",
         "tests:", FLEX + STATE + STATE_TESTS, "no test makes the condition fail"),
    Case("a where no test makes false", "PE106", "warning",
         FLEX + "where: {field: sku.tier, notEquals: Burstable, onMissing: pass}\n" + STATE + STATE_TESTS,
         "tests:",
         FLEX + "where: {field: sku.tier, notEquals: Burstable, onMissing: pass}\n" + STATE + STATE_TESTS +
         "  - {name: burstable, resource: {sku: {tier: Burstable}}, expect: not_applicable}\n",
         "no test makes spec.where false"),
    Case("related type the catalog does not know", "PE107", "error",
         related("db", "Microsoft.DBforPostgreSQL/flexibleServers/databases", "postgres",
                 "{field: related.db.properties.charset, equals: UTF8}"),
         "Microsoft.DBforPostgreSQL/flexibleServers/databases",
         related("rst", CONFIGURATIONS, "require_secure_transport",
                 '{field: related.rst.properties.value, equals: "on"}'),
         "a live scan could never read it"),
    Case("related default other than the platform's", "PE108", "warning",
         TLS_WITH_DEFAULT.format("TLSv1.3"), "TLSv1.3}}", TLS_WITH_DEFAULT.format("tlsv1.2"),
         'platform default of Microsoft.DBforPostgreSQL/flexibleServers/configurations '
         "'ssl_min_protocol_version' is \"TLSv1.2\""),
]


def position(text: str, needle: str, after: str = "") -> tuple[int, int]:
    """The 1-based line and column of ``needle`` in ``text`` (after ``after``, if given)."""
    offset = text.index(needle, text.index(after) if after else 0)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_triggers(case: Case, write: Write) -> None:
    text = rule_text(case.bad)
    path = write("rule.yaml", text)
    found = [p for p in lint([path]) if p.code == case.code]
    assert len(found) == 1, [p.text() for p in lint([path])]
    (problem,) = found
    assert problem.severity == case.severity
    assert (problem.span.file, problem.span.line, problem.span.col) == (str(path), *position(text, case.at, case.after))
    assert case.message in problem.message
    assert problem.text().startswith(f"{path}:{problem.span.line}:{problem.span.col}: {case.severity}: {case.code}: ")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corrected_rule_does_not_trigger(case: Case, write: Write) -> None:
    path = write("rule.yaml", rule_text(case.good))
    assert [p.text() for p in lint([path]) if p.code == case.code] == []


def test_problems_are_sorted_by_position(write: Write) -> None:
    path = write("rule.yaml", rule_text(FLEX + """
condition:
  allOf:
    - {field: properties.sslEnforcement, equals: Enabled}
    - {field: properties.stat, equals: Ready}
    - {field: properties.network.publicNetworkAccess, equals: Enable}
"""))
    problems = lint([path])
    assert [p.code for p in problems] == ["PE105", "PE103", "PE101", "PE102"]
    assert [p.span.line for p in problems] == sorted(p.span.line for p in problems)


def test_duplicate_ids_across_files_are_load_errors(write: Write) -> None:
    first = write("a.yaml", rule_text(FLEX + STATE + STATE_TESTS))
    second = write("b.yaml", rule_text(FLEX + STATE + STATE_TESTS))
    (problem,) = lint([first, second])
    assert (problem.code, problem.span.file) == ("PE001", str(second))
    assert f"first defined at {first}:4:7" in problem.message


def test_a_value_pe102_reports_is_not_reported_again_by_pe104(write: Write) -> None:
    path = write("rule.yaml", rule_text(FLEX + """
condition:
  allOf:
    - {field: properties.network.publicNetworkAccess, equals: Enable}
    - {field: properties.network.publicNetworkAccess, notEquals: Disable}
"""))
    assert sorted(p.code for p in lint([path]) if p.code in ("PE102", "PE104")) == ["PE102", "PE102"]


def test_element_paths_are_checked_against_the_array_elements(write: Write) -> None:
    path = write("rule.yaml", rule_text(SINGLE + """
related: {alerts: {type: Microsoft.DBforPostgreSQL/servers/securityAlertPolicies, name: Default}}
condition:
  field: related.alerts.properties.disabledAlerts
  count: {where: {field: "@", equals: Sql_Injektion}, equals: 0}
"""))
    (problem,) = [p for p in lint([path]) if p.code == "PE102"]
    assert '"Sql_Injektion" is not a value of related.alerts.properties.disabledAlerts[*]' in problem.message
    assert 'did you mean "Sql_Injection"?' in problem.message
