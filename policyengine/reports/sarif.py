"""The SARIF 2.1.0 report, for GitHub code scanning, Azure DevOps and SARIF viewers.

Results are the findings that need attention: failing, erroneous, unknown and waived ones.
Passing and not-applicable findings are left out: SARIF could carry them (``kind: pass`` and
``notApplicable``), but GitHub code scanning ignores ``kind`` and would raise every one as an
alert, and a scan of an estate would drown its few failures in thousands of passes (the JSON
and CSV reports hold every verdict). The choices behind the shape:

- ``level`` from the rule's severity (critical and high: ``error``; medium: ``warning``; low
  and info: ``note``), and ``security-severity`` on the rule, which GitHub reads for rules
  tagged ``security``:
  https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning#reportingdescriptor-object
- An unknown verdict is ``kind: open`` — "the tool concluded that there was insufficient
  information to decide whether a problem exists" (SARIF §3.27.9) — and so, by §3.27.10,
  ``level: none``: https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/sarif-v2.1.0-errata01-os-complete.html#_Toc141790898
- A template finding's primary location is the line that sets the offending value (the
  evidence's ``site``), with the resource's declaration as a related location: that line is
  where the fix goes, and GitHub annotates a pull request only on lines of its diff. Without
  a site, the declaration itself.
- Every result has a ``physicalLocation``, because GitHub rejects a whole upload if one result
  lacks it (https://github.com/github/codeql-action/issues/1738). An export's finding points
  at the export's row; a live resource is its own artifact, its id a path under Azure
  Resource Manager (``uriBaseId`` ``AZURE``). Both also carry the resource id as a logical
  location.
- ``partialFingerprints["policyengine/v1"]`` is the finding's fingerprint (rule and resource,
  stable across runs). GitHub itself only reads ``primaryLocationLineHash``, which its upload
  action computes from the source line; where there is no line to hash (a live resource, a
  plan) the fingerprint stands in for it, so an alert keeps its identity between scans:
  https://github.com/github/codeql-action/blob/main/src/fingerprints.ts
- A waived finding is a result with an accepted external suppression (§3.35). GitHub does not
  honour suppressions by default and shows it as an open alert; viewers that do, hide it.
- An input error (a file, row or resource that could not be read) is not a result: no rule
  judged it. It is a ``toolExecutionNotification`` (§3.58) of level ``error`` and descriptor
  ``input-error``, located like a result, and the invocation is not ``executionSuccessful``
  (the scan exits with 2). Data the rules needed and the input lacked is one of level
  ``warning`` and descriptor ``missing-data``, whose message gives the command that collects it.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from policyengine import __version__, ir
from policyengine.findings import Finding, Verdict
from policyengine.frameworks import Framework
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import (
    ATTENTION,
    control_status,
    exit_code,
    finding_order,
    incomplete_lines,
    is_path,
    json_text,
    md_code_block,
    md_text,
    parse_site,
    remediation_lines,
    visible,
)
from policyengine.reports.fixes import fix_command
from policyengine.reports.template_fixes import Change, exact, fix_lines, template_fix
from policyengine.status import InputProblem, sorted_problems
from policyengine.waivers import waiver_warnings

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "policyengine/v1"
SRCROOT = "%SRCROOT%"
#: The base of a live resource's artifact URI: its id is a path on Azure Resource Manager.
AZURE = "AZURE"
AZURE_URI = "https://management.azure.com/"

LEVELS = {
    ir.Severity.CRITICAL: "error",
    ir.Severity.HIGH: "error",
    ir.Severity.MEDIUM: "warning",
    ir.Severity.LOW: "note",
    ir.Severity.INFO: "note",
}
#: GitHub's bands: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low (a string).
SECURITY_SEVERITY = {
    ir.Severity.CRITICAL: "9.5",
    ir.Severity.HIGH: "8.0",
    ir.Severity.MEDIUM: "5.5",
    ir.Severity.LOW: "3.0",
    ir.Severity.INFO: "1.0",
}
#: How often a rule's results are true problems. A rule compares configuration values, so a
#: result is wrong only where a template leaves a value to a platform default we assumed.
PRECISION = "high"
_DESCRIPTION_LIMIT = 1024  # what GitHub allows a fullDescription


class SarifReporter:
    """Writes one SARIF log with one run: the rules, and a result per finding needing attention."""

    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.rule_index = {rule.id: i for i, rule in enumerate(rules)}
        self.kept: list[Finding] = []
        self.uris: dict[str, dict[str, str]] = {}

    def add(self, finding: Finding) -> None:
        if finding.verdict in ATTENTION:
            self.kept.append(finding)

    def finish(self, summary: Summary, context: ReportContext) -> None:
        self.kept.sort(key=finding_order)
        results = [self._result(f, context) for f in self.kept]
        run: dict[str, Any] = {
            "tool": {"driver": _driver(self.rules, context.framework)},
            "invocations": [self._invocation(summary, context)],
            "results": results,
            "columnKind": "unicodeCodePoints",  # columns count characters, as Python's do
            "properties": _run_properties(summary, context),
        }
        if any(loc["physicalLocation"]["artifactLocation"].get("uriBaseId") == AZURE
               for result in results for loc in result["locations"]):
            run["originalUriBaseIds"] = {AZURE: {"uri": AZURE_URI}}
        if context.framework is not None:
            run["taxonomies"] = [_taxonomy(context.framework, summary)]
        log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
        self.out.write(json_text(log, indent=2) + "\n")

    def _invocation(self, summary: Summary, context: ReportContext) -> dict[str, Any]:
        scan = context.scan
        invocation: dict[str, Any] = {"executionSuccessful": scan.complete and not scan.input_errors}
        code = exit_code(summary, scan)
        if code is not None:
            invocation["exitCode"] = code
        execution = [self._input_error(problem) for problem in sorted_problems(scan.input_errors)]
        execution += [_notification("missing-data", "warning", missing.text()) for missing in scan.missing]
        execution += [_notification("input-note", "note", note) for note in context.stats.notes]
        execution += [_notification("incomplete-scan", "error", line) for line in incomplete_lines(scan)]
        if execution:
            invocation["toolExecutionNotifications"] = execution
        configuration = [_notification(f"waiver-{entry['status']}", "warning", text)
                         for entry, text in waiver_warnings(context.waivers)]
        if configuration:
            invocation["toolConfigurationNotifications"] = configuration
        return invocation

    def _input_error(self, problem: InputProblem) -> dict[str, Any]:
        """An input error as a notification, at the file, line and column where it is."""
        notification = _notification("input-error", "error", problem.message)
        location: dict[str, Any] = {}
        span = problem.span
        if is_path(span.file):
            location["physicalLocation"] = self._physical(span.file, span.line, span.col)
        if problem.resource is not None:
            location["logicalLocations"] = [{"fullyQualifiedName": problem.resource, "kind": "resource"}]
        if location:
            notification["locations"] = [location]
        else:  # read from standard input or a live source: the message still says where
            notification["message"]["text"] = problem.text()
        notification["properties"] = {"unit": problem.unit.value}
        return notification

    def _result(self, finding: Finding, context: ReportContext) -> dict[str, Any]:
        rule = finding.rule
        kind, level = ("open", "none") if finding.verdict is Verdict.UNKNOWN else \
            ("fail", LEVELS[rule.metadata.severity])
        location, related = self._locations(finding)
        fingerprints = {FINGERPRINT_KEY: finding.fingerprint}
        if "region" not in location["physicalLocation"]:
            fingerprints["primaryLocationLineHash"] = f"{finding.fingerprint}:1"
        result: dict[str, Any] = {
            "ruleId": rule.id,
            "kind": kind,
            "level": level,
            "message": {"text": finding.message},
            "locations": [location],
            "partialFingerprints": fingerprints,
            "properties": {"verdict": finding.verdict.value, "severity": rule.metadata.severity.label,
                           "resourceType": finding.resource_type},
        }
        if finding.origin.address:  # a plan's resource address is what a Terraform user searches for
            result["properties"]["address"] = finding.origin.address
        if finding.verdict is Verdict.FAIL and finding.origin.kind is ir.SourceKind.DECLARED:
            changes = template_fix(finding)
            if changes:  # the edits in words; applied exactly where the site holds the wrong literal
                result["properties"]["fix"] = "\n".join(fix_lines(changes))
                fixes = self._fixes(changes)
                if fixes:
                    result["fixes"] = fixes
        elif finding.verdict is Verdict.FAIL:
            fix = fix_command(finding)
            if fix:  # this resource's command; the rule's help holds the general one
                result["properties"]["fix"] = fix
        if rule.id in self.rule_index:
            result["ruleIndex"] = self.rule_index[rule.id]
        if related:
            result["relatedLocations"] = related
        if finding.waiver is not None:
            waiver = finding.waiver
            result["suppressions"] = [{
                "kind": "external",
                "status": "accepted",
                "justification": waiver.justification,
                "properties": {"owner": waiver.owner, "expires": waiver.expires.isoformat(),
                               "source": waiver.where},
            }]
        if context.baseline is not None:
            result["baselineState"] = "unchanged" if finding.baseline else "new"
        return result

    def _fixes(self, changes: tuple[Change, ...]) -> list[dict[str, Any]]:
        """The template edits as one SARIF fix (§3.55) when every one is an exact replacement
        (a wrong literal at a known place); none otherwise: a fix that a viewer applies must
        be the whole of it."""
        replacements = [(change, exact(change)) for change in changes]
        if not all(found for _, found in replacements):
            return []
        by_file: dict[str, list[dict[str, Any]]] = {}
        for change, found in replacements:
            assert found is not None
            region = {"startLine": found.start_line, "startColumn": found.start_column,
                      "endLine": found.end_line, "endColumn": found.end_column}
            by_file.setdefault(change.file, []).append({"deletedRegion": region,
                                                        "insertedContent": {"text": found.text}})
        text = "; ".join(change.text for change in changes)
        return [{"description": {"text": text[:1].upper() + text[1:] + "."},
                 "artifactChanges": [{"artifactLocation": self._artifact(file), "replacements": edits}
                                     for file, edits in by_file.items()]}]

    def _locations(self, finding: Finding) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The primary location, and the related ones (a template's declaration, other sites)."""
        logical = [{"fullyQualifiedName": finding.resource_id, "kind": "resource"}]
        origin = finding.origin
        if not is_path(origin.file):
            artifact = {"uri": _quoted(finding.resource_id.lstrip("/")), "uriBaseId": AZURE}
            return {"physicalLocation": {"artifactLocation": artifact}, "logicalLocations": logical}, []
        declared = self._physical(origin.file, origin.line, origin.column)
        sites = _failing_sites(finding)
        if not sites:
            return {"physicalLocation": declared, "logicalLocations": logical}, []
        file, line, column = sites[0]
        primary = {"physicalLocation": self._physical(file, line, column), "logicalLocations": logical,
                   "message": {"text": "the value is set here"}}
        related = [{"id": 1, "physicalLocation": declared,
                    "message": {"text": "the resource is declared here"}}]
        related += [{"id": i, "physicalLocation": self._physical(*site),
                     "message": {"text": "another value the rule reads is set here"}}
                    for i, site in enumerate(sites[1:], start=2)]
        return primary, related

    def _physical(self, file: str, line: int, column: int) -> dict[str, Any]:
        physical: dict[str, Any] = {"artifactLocation": self._artifact(file)}
        if line > 0:
            physical["region"] = {"startLine": line, **({"startColumn": column} if column > 0 else {})}
        return physical

    def _artifact(self, file: str) -> dict[str, str]:
        """A file relative to the working directory (GitHub resolves it against the repository
        root, symbolic links resolved); outside it, an absolute ``file:`` URI."""
        artifact = self.uris.get(file)
        if artifact is None:
            root = Path.cwd().resolve()
            path = Path(file.replace("\0", "\\x00"))  # a name with NUL names no file; resolve() refuses it
            absolute = (path if path.is_absolute() else root / path).resolve()
            try:
                relative = absolute.relative_to(root)
            except ValueError:
                artifact = {"uri": "file://" + _quoted(absolute.as_posix())}
            else:
                artifact = {"uri": _quoted(relative.as_posix()), "uriBaseId": SRCROOT}
            self.uris[file] = artifact
        return artifact


def _quoted(text: str) -> str:
    """``text`` percent-encoded for a URI. A file name's undecodable bytes, which Python reads
    as surrogate escapes (PEP 383), are those bytes again; any other lone surrogate, which
    UTF-8 cannot encode, is written visibly (``\\ud800``)."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = visible(text).encode("utf-8")
    return quote(raw)


def _failing_sites(finding: Finding) -> list[tuple[str, int, int]]:
    """Where a template sets the values behind the verdict, first one first, each once."""
    wanted = Verdict.UNKNOWN if finding.verdict is Verdict.UNKNOWN else Verdict.FAIL
    sites: list[tuple[str, int, int]] = []
    for evidence in finding.evidence:
        parsed = parse_site(evidence.site) if evidence.site and evidence.outcome is wanted else None
        if parsed is not None and parsed not in sites:
            sites.append(parsed)
    return sites


def _driver(rules: tuple[ir.Rule, ...], framework: Framework | None) -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": "policyengine",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_descriptor(rule, framework) for rule in rules],
    }
    homepage = _homepage()
    if homepage:
        driver["informationUri"] = homepage
    return driver


def _homepage() -> str | None:
    """The project's home page from the installed package's metadata, if it declares one."""
    try:
        meta = metadata.metadata("policyengine")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository"):
            return str(url).strip()
    home = meta.get_all("Home-page") or []
    return str(home[0]) if home else None


def _descriptor(rule: ir.Rule, framework: Framework | None) -> dict[str, Any]:
    meta = rule.metadata
    description = meta.description.strip()
    if len(description) > _DESCRIPTION_LIMIT:
        description = description[:_DESCRIPTION_LIMIT - 1].rstrip() + "…"
    tags = list(meta.tags) + ([] if "security" in meta.tags else ["security"])
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _pascal(meta.title),
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": description},
        "help": {"text": _help_text(rule), "markdown": _help_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[meta.severity]},
        "properties": {
            "tags": tags,
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "precision": PRECISION,
            "severity": meta.severity.label,
            "resourceType": rule.resource_type,
            "controls": {fid: list(ids) for fid, ids in meta.controls},
        },
    }
    if meta.references:
        descriptor["helpUri"] = meta.references[0]
    if framework is not None:
        descriptor["relationships"] = [
            {"target": {"id": control.id, "toolComponent": {"name": framework.id}}, "kinds": ["relevant"]}
            for control in framework.controls if any(r.id == rule.id for r in control.rules)]
    return descriptor


def _pascal(title: str) -> str:
    """``Flexible servers accept only TLS`` -> ``FlexibleServersAcceptOnlyTLS`` (SARIF's rule
    ``name`` is an identifier; GitHub allows 255 characters)."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))[:255]


def _help_text(rule: ir.Rule) -> str:
    meta = rule.metadata
    parts = [meta.description.strip(), *remediation_lines(rule)]
    if meta.references:
        parts.append("References:\n" + "\n".join(f"- {ref}" for ref in meta.references))
    return "\n\n".join(parts)


def _help_markdown(rule: ir.Rule) -> str:
    meta = rule.metadata
    remediation = meta.remediation
    parts = [md_text(meta.description), f"**Fix.** {md_text(remediation.text)}"]
    if remediation.portal:
        parts.append(f"**Azure portal.** {md_text(remediation.portal)}")
    if remediation.cli:
        parts.append("**Azure CLI.**\n\n" + md_code_block(remediation.cli.strip(), "sh"))
    if meta.references:
        parts.append("**References.**\n\n" + "\n".join(f"- {_link(ref)}" for ref in meta.references))
    return "\n\n".join(parts)


def _link(url: str) -> str:
    return f"<{url}>" if re.fullmatch(r"https?://[^\s<>]+", url) else md_text(url)


def _notification(descriptor: str, level: str, text: str) -> dict[str, Any]:
    return {"descriptor": {"id": descriptor}, "level": level, "message": {"text": text}}


def _run_properties(summary: Summary, context: ReportContext) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "inputs": list(context.inputs),
        "scan": context.scan.to_json(),
        "summary": {
            "verdicts": {v.value: summary.total(v) for v in Verdict},
            "failOn": summary.fail_on.label,
            "failing": summary.failing,
            "baselined": summary.baselined,
        },
    }
    if context.baseline is not None:
        properties["baseline"] = context.baseline
    return properties


def _taxonomy(framework: Framework, summary: Summary) -> dict[str, Any]:
    """The framework as a SARIF taxonomy (§3.19.3): each control a taxon with its title and
    its status; one no rule covers says why."""
    taxa = []
    for control in framework.controls:
        taxon: dict[str, Any] = {"id": control.id, "properties": {
            "status": control_status(control, summary).value, "rules": [r.id for r in control.rules]}}
        if control.title:
            taxon["shortDescription"] = {"text": control.title}
        if not control.rules:
            taxon["properties"]["reason"] = control.reason
        taxa.append(taxon)
    taxonomy: dict[str, Any] = {"name": framework.id, "fullName": framework.title, "taxa": taxa}
    if framework.scope:
        taxonomy["shortDescription"] = {"text": f"Listed: {framework.scope}."}
    return taxonomy
