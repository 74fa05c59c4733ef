"""``policyengine doctor --azure`` against the fake Azure: each check one line, a failure with
its fix, exit 3 when any fails."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from policyengine.kql.constructs import plan_constructs
from policyengine.kql.plan import build_plan
from policyengine.loading.rules import load_rules
from policyengine.sources.azure import doctor
from tests.azurefake.server import FakeAzure, Fault
from tests.conftest import Result
from tests.kql.test_dialect import every_operator_rules
from tests.live.conftest import FLEX, NO_PLAN

Cli = Callable[..., Result]
Start = Callable[..., FakeAzure]
GRAPH = "/providers/Microsoft.ResourceGraph/resources"


def lines(result: Result) -> dict[str, str]:
    """Each printed check by its name: the whole line."""
    out = {}
    for line in result.out.splitlines():
        _, _, rest = line.partition("  ")
        out[rest.strip().split(":")[0]] = line
    return out


def test_all_checks_pass(cli: Cli, azure_env: Start) -> None:
    fake = azure_env()
    result = cli("doctor", "--azure", "--timeout", "5")
    assert result.code == 0, result.out + result.err
    found = lines(result)
    assert found["sign-in"].startswith("ok")
    assert "visible" in found["subscriptions"] and NO_PLAN in result.out
    assert found["securityresources in Resource Graph"].startswith("ok")
    assert found["ARM reads of flexibleServers children"].startswith("ok")
    assert "configurations" in result.out and "advancedThreatProtectionSettings" in result.out
    assert {"KQL comparisons and logic", "KQL dynamic values", "KQL the subscription join",
            "KQL summaries"} <= set(found)
    assert not any(line.startswith(("FAIL", "skip")) for line in found.values()), result.out
    # A few seconds' worth: no request per resource.
    assert fake.count("POST", GRAPH) <= 8 and fake.count("GET", "/configurations") == 1


def test_json_and_given_subscriptions(cli: Cli, azure_env: Start) -> None:
    azure_env()
    result = cli("doctor", "--azure", "--subscription", NO_PLAN, "--subscription", "0000-not-there",
                 "--format", "json")
    assert result.code == 3
    report = json.loads(result.out)
    assert report["ok"] is False
    scope = next(c for c in report["checks"] if c["check"] == "subscriptions")
    assert scope["status"] == "FAIL" and "0000-not-there" in scope["detail"] and "Reader" in scope["fix"]


def test_sign_in_failure_is_one_line_with_the_fix(cli: Cli, azure_env: Start,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    azure_env()
    monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", "not-the-token")
    result = cli("doctor", "--azure")
    assert result.code == 3 and "Traceback" not in result.err
    found = lines(result)
    assert found["sign-in"].startswith("FAIL") and "az login" in found["sign-in"]
    assert "POLICYENGINE_ACCESS_TOKEN" in found["sign-in"]
    assert all(found[k].startswith("skip") for k in found if k != "sign-in")


def test_no_credential_at_all(cli: Cli, azure_env: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    azure_env()
    monkeypatch.delenv("POLICYENGINE_ACCESS_TOKEN")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    result = cli("doctor", "--azure", "--auth", "env")
    assert result.code == 3 and "Traceback" not in result.err
    assert lines(result)["sign-in"].startswith("FAIL") and "az login" in result.out


def test_denied_securityresources_names_security_reader(cli: Cli, azure_env: Start) -> None:
    azure_env(faults=[Fault("POST", GRAPH, 403, in_body="securityresources")])
    result = cli("doctor", "--azure")
    assert result.code == 3
    line = lines(result)["securityresources in Resource Graph"]
    assert line.startswith("FAIL") and "403" in line and "Security Reader" in line
    # The other checks still ran: the join probe reads resourcecontainers, not securityresources.
    assert lines(result)["KQL the subscription join"].startswith("ok")


def test_denied_server_configurations_names_reader(cli: Cli, azure_env: Start) -> None:
    azure_env(faults=[Fault("GET", r"/configurations$", 403)])
    result = cli("doctor", "--azure")
    assert result.code == 3
    line = lines(result)["ARM reads of flexibleServers children"]
    assert "configurations" in result.out
    failed = [text for text in result.out.splitlines() if text.startswith("FAIL")]
    assert len(failed) == 1 and "configurations" in failed[0] and "Reader" in failed[0], result.out
    assert "403" in failed[0] and line


def test_no_server_is_a_skip(cli: Cli, azure_env: Start) -> None:
    azure_env(faults=[Fault("POST", GRAPH, 200, body=json.dumps({"totalRecords": 0, "count": 0, "data": [],
                                                                "resultTruncated": "false"}),
                            in_body=r"project id, name, subscriptionId")])
    result = cli("doctor", "--azure")
    assert result.code == 0, result.out
    assert lines(result)["ARM reads of flexibleServers children"].startswith("skip")
    assert "no " in lines(result)["ARM reads of flexibleServers children"]


def test_a_refused_construct_is_named(cli: Cli, azure_env: Start) -> None:
    refusal = json.dumps({"error": {"code": "BadRequest", "message": "Query is invalid",
                                    "details": [{"code": "UnknownFunction", "message": "Unknown function: 'iff'"}]}})
    azure_env(faults=[Fault("POST", GRAPH, 400, body=refusal, in_body=r"iff\(")])
    result = cli("doctor", "--azure")
    assert result.code == 3
    line = lines(result)["KQL comparisons and logic"]
    assert line.startswith("FAIL") and "refused iff()" in line and "case()" not in line.split("refused")[1]
    assert lines(result)["KQL dynamic values"].startswith("ok")


def test_every_compiled_construct_has_a_probe() -> None:
    """The probes cover what the compiler emits for every operator (cut by the same
    kql.constructs the evidence test uses)."""
    for plan in (build_plan(load_rules([])), build_plan(every_operator_rules())):
        assert plan_constructs(plan) <= doctor.KNOWN


def test_every_probe_passes_the_oracle() -> None:
    """Each probe, alone and per class, runs in the KQL oracle the fake serves."""
    from tests.azurefake.server import Estate
    from tests.kqloracle import execute
    from tests.live.conftest import EXAMPLE_ROWS

    tables = Estate.from_rows(EXAMPLE_ROWS).tables
    for members in doctor.CLASSES.values():
        for used in (list(members), *([c] for c in members)):
            rows = execute(doctor.probe(used), tables)
            assert rows, used
    assert FLEX in doctor.BASE


def test_help_imports_no_azure_sdk(cli: Cli) -> None:
    import subprocess
    import sys

    code = ("import sys; from policyengine.cli import main\n"
            "try:\n    main(['doctor', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert not any(m.startswith('azure') for m in sys.modules), 'azure imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "doctor" in cli("--help").out
