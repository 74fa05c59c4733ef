"""Check a JSON report of a scan of a generated estate, reading it as a stream.

    python bench/check_report.py REPORT.json MANIFEST.json [--rules DIR]... [--compare OTHER.json]

The report is read member by member and finding by finding (a report of 10^5 servers is not
loaded whole), and must be:

* valid JSON: one object, nothing after it;
* complete: exactly one finding per (resource, rule targeting its type), counted from the
  generator's manifest and the rules policyengine loads (bundled plus ``--rules``), no
  finding twice (by fingerprint), each naming a known rule, its resource type and a verdict;
* consistent: its summary counts what its findings say, its ``inputs`` count every row of the
  estate and no orphan.

With ``--compare``, the verdict of every (rule, resource) must be the same in both reports,
e.g. a streamed scan of the parent-first file and a buffered scan of the shuffled one.

Prints one JSON object (counts by rule and verdict, problems found); exit code 0 if no problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

from policyengine.errors import InputError
from policyengine.sources.export import JsonStream

VERDICTS = ("pass", "fail", "unknown", "not_applicable", "error")
MAX_PROBLEMS = 20


class ReportError(Exception):
    """The report is not valid JSON of the expected shape."""


def expected_findings(manifest: dict[str, Any], rule_types: dict[str, str]) -> int:
    """One finding per resource and rule targeting its type."""
    types: dict[str, int] = manifest["types"]
    return sum(types.get(rtype.lower(), 0) for rtype in rule_types.values())


def loaded_rules(rule_dirs: list[Path]) -> dict[str, str]:
    """Rule id -> resource type, as policyengine loads them for the scan."""
    from policyengine.loading.rules import load_rules

    return {rule.id: rule.resource_type for rule in load_rules(rule_dirs)}


class Checker:
    def __init__(self, manifest: dict[str, Any], rule_types: dict[str, str],
                 keep_verdicts: bool) -> None:
        self.manifest = manifest
        self.rule_types = rule_types
        self.counts: dict[str, Counter[str]] = {rule: Counter() for rule in rule_types}
        self.fingerprints: set[str] = set()
        self.verdicts: dict[str, str] = {}
        self.keep_verdicts = keep_verdicts
        self.problems: list[str] = []
        self.members: dict[str, Any] = {}
        self.findings = 0

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("... (more problems not shown)")

    def finding(self, f: Any) -> None:
        self.findings += 1
        try:
            rule, verdict, fingerprint = f["rule"]["id"], f["verdict"], f["fingerprint"]
            rtype = f["resource"]["type"]
        except (TypeError, KeyError) as exc:
            self.problem(f"finding #{self.findings} lacks {exc}")
            return
        if rule not in self.rule_types:
            self.problem(f"finding #{self.findings}: unknown rule {rule}")
            return
        if str(rtype).lower() != self.rule_types[rule].lower():
            self.problem(f"finding #{self.findings}: {rule} on a {rtype}")
        if verdict not in VERDICTS:
            self.problem(f"finding #{self.findings}: verdict {verdict!r}")
        if fingerprint in self.fingerprints:
            self.problem(f"finding #{self.findings}: {rule} on {f['resource'].get('id')} twice")
        self.fingerprints.add(fingerprint)
        if self.keep_verdicts:
            self.verdicts[fingerprint] = verdict
        self.counts[rule][verdict] += 1

    def read(self, handle: IO[str]) -> None:
        """The report, streamed with policyengine's own reader: findings one by one."""
        try:
            for key, value, _ in JsonStream(handle, "report").members("findings"):
                if key is None:
                    self.finding(value)
                elif key in self.members:
                    self.problem(f"member {key!r} twice")
                else:
                    self.members[key] = value
        except InputError as exc:
            raise ReportError(str(exc)) from None

    def finish(self) -> None:
        for key in ("findings", "inputs", "rules", "summary", "schemaVersion", "tool"):
            if key not in self.members:
                self.problem(f"the report has no {key!r}")
        expected = expected_findings(self.manifest, self.rule_types)
        if self.findings != expected:
            self.problem(f"{self.findings} findings; expected {expected} "
                         "(resources x rules targeting their type)")
        summary = self.members.get("summary") or {}
        if summary.get("total") != self.findings:
            self.problem(f"summary.total {summary.get('total')} != {self.findings} findings")
        for entry in summary.get("rules", []):
            got = {v: self.counts.get(entry.get("id"), Counter())[v] for v in VERDICTS}
            if {v: entry.get(v) for v in VERDICTS} != got:
                self.problem(f"summary of {entry.get('id')} does not match its findings: {got}")
        reported = {r.get("id") for r in self.members.get("rules") or []}
        if reported != set(self.rule_types):
            self.problem(f"the report's rules {sorted(reported)} are not the loaded rules")
        inputs = self.members.get("inputs") or {}
        if inputs.get("rows") != self.manifest["rows"]:
            self.problem(f"inputs.rows {inputs.get('rows')} != {self.manifest['rows']} rows written")
        if inputs.get("orphans") != 0:
            self.problem(f"{inputs.get('orphans')} orphan child rows (all have a parent)")

    def compare(self, other: Checker) -> None:
        if set(self.verdicts) != set(other.verdicts):
            self.problem(f"{len(set(self.verdicts) ^ set(other.verdicts))} (rule, resource) "
                         "pairs are in only one of the two reports")
        differ = sum(1 for fp, v in self.verdicts.items() if other.verdicts.get(fp, v) != v)
        if differ:
            self.problem(f"{differ} verdicts differ between the two reports")


def check(report: Path, manifest_file: Path, rule_dirs: list[Path],
          compare: Path | None = None) -> dict[str, Any]:
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    rule_types = loaded_rules(rule_dirs)
    checker = Checker(manifest, rule_types, keep_verdicts=compare is not None)
    try:
        with report.open(encoding="utf-8") as handle:
            checker.read(handle)
        checker.finish()
        if compare is not None:
            other = Checker(manifest, rule_types, keep_verdicts=True)
            with compare.open(encoding="utf-8") as handle:
                other.read(handle)
            checker.compare(other)
    except (ReportError, UnicodeDecodeError) as exc:
        checker.problem(f"not a valid report: {exc}")
    return {
        "report": str(report),
        "bytes": report.stat().st_size,
        "findings": checker.findings,
        "expected": expected_findings(manifest, rule_types),
        "verdicts": {rule: dict(sorted(c.items())) for rule, c in sorted(checker.counts.items())},
        "compared_with": str(compare) if compare else None,
        "problems": checker.problems,
        "ok": not checker.problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a JSON report of a generated estate.")
    parser.add_argument("report", type=Path)
    parser.add_argument("manifest", type=Path, help="the generator's OUT.ndjson.manifest.json")
    parser.add_argument("--rules", type=Path, action="append", default=[],
                        help="rule directories the scan was given with --rules")
    parser.add_argument("--compare", type=Path, metavar="OTHER",
                        help="another report of the same estate: verdicts must agree")
    args = parser.parse_args(argv)
    result = check(args.report, args.manifest, args.rules, args.compare)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
