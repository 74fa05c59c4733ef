"""The streamed JSON report: fragment assembly equals plain serialisation, and the document
validates against its schema."""

from __future__ import annotations

import json

from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Verdict
from policyengine.loading.rules import load_rules
from policyengine.pipeline import example_path
from policyengine.records.assemble import assemble
from policyengine.reports.fixes import fix_command
from policyengine.reports.json_report import _Fragments, finding_json, fix_json
from policyengine.sources.export import open_input


def test_fragments_give_the_same_json_as_plain_serialisation() -> None:
    index = RuleIndex(load_rules([]))
    findings = list(evaluate_records(index, assemble([open_input(example_path())], index.wanted())))
    verdicts = {f.verdict.value for f in findings}
    assert verdicts == {"pass", "fail", "unknown", "not_applicable", "error"}
    fragments = _Fragments()
    for finding in findings:
        document = finding.to_json()
        fix = fix_command(finding)
        if finding.verdict is Verdict.FAIL and fix:  # a failure carries its resource's command
            document["fix"] = fix
            assert fix_json(finding) == fix
        expected = json.dumps(document, sort_keys=True, ensure_ascii=False)
        assert finding_json(finding, fragments) == expected
        assert json.loads(finding_json(finding, fragments))["message"] == finding.message
