"""The HTML report: a well-formed, self-contained page, byte-identical under
``SOURCE_DATE_EPOCH``, with hostile text made inert (static checks); the header an auditor
files, the fix commands, the types no rule reads; and what a reader sees in real headless
Chromium — the counts, the charts, the findings table and its filters — with no console error
and no request. How the page lays out at three widths and in print: ``test_html_layout.py``.

The browser checks need Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``)
and are skipped without it, unless ``CI_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes its
absence a failure. Playwright drives it; its own browser download is never used.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import hashlib
import html
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from policyengine import __version__, frameworks, ir
from policyengine.cli import main
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Evidence, Finding, Verdict, Waiver
from policyengine.loading.rules import load_rules
from policyengine.pipeline import example_path
from policyengine.records.assemble import assemble
from policyengine.reports import ReportContext, Summary, formats, html_report
from policyengine.reports.fixes import fix_command
from policyengine.reports.html_report import island_json
from policyengine.reports.html_scan import read_by_rules, rules_digest, split_ignored
from policyengine.sources.export import open_input
from policyengine.status import Gap, ScanStatus, Stats

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "examples" / "templates"
WAIVERS = ROOT / "examples" / "policy" / "waivers.yaml"
ATTENTION = ("fail", "error", "unknown", "waived")
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
CHROMIUM = Path("/usr/bin/chromium")
# The flags this machine's closed network needs (no background connections, no QUIC); the
# profile is Playwright's own fresh temporary one.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A build's time for reproducible pages (2023-11-14 22:13:20 UTC).
EPOCH = "1700000000"


# ---- rendering -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Rendered:
    path: Path
    doc: dict[str, Any]  # the JSON report of the same scan, written by the same run

    @property
    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def attention(self, match: Callable[[dict[str, Any]], bool] = lambda f: True) -> int:
        """How many findings the table shows at first (fail, error, unknown, waived) that match."""
        return sum(1 for f in self.doc["findings"] if f["verdict"] in ATTENTION and match(f))


def scan_to(folder: Path, *argv: str, epoch: str | None = EPOCH) -> Rendered:
    """The CLI's HTML and JSON reports of one scan, dated ``epoch`` (``SOURCE_DATE_EPOCH``;
    None: unset, so the page is dated by the clock)."""
    folder.mkdir(parents=True, exist_ok=True)
    page, doc = folder / "report.html", folder / "report.json"
    with pytest.MonkeyPatch.context() as patch:
        if epoch is None:
            patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        else:
            patch.setenv("SOURCE_DATE_EPOCH", epoch)
        code = main(["scan", *argv, "--format", "html", "--output", str(page),
                     "--format", "json", "--output", str(doc)])
    assert code in (0, 1)
    return Rendered(page, json.loads(doc.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return scan_to(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return scan_to(tmp_path_factory.mktemp("templates"), str(TEMPLATES))


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The example with its waivers and grouped by a framework's controls."""
    return scan_to(tmp_path_factory.mktemp("governed"), "--waivers", str(WAIVERS), "--framework", "mcsb")


@cache
def example_findings() -> tuple[tuple[ir.Rule, ...], tuple[Finding, ...]]:
    rules = load_rules([])
    index = RuleIndex(rules)
    records = assemble([open_input(example_path(), "examples/estate.json")], index.wanted())
    return rules, tuple(evaluate_records(index, records))


def render(findings: Sequence[Finding], rules: tuple[ir.Rule, ...] | None = None,
           context: ReportContext | None = None) -> str:
    """The page, built in-process as ``policyengine scan`` builds it."""
    rules = rules or example_findings()[0]
    summary = Summary(rules, ir.Severity.INFO)
    out = io.StringIO()
    reporter = formats()["html"](out, rules)
    for finding in findings:
        summary.add(finding)
        reporter.add(finding)
    reporter.finish(summary, context or ReportContext(("examples/estate.json",), Stats()))
    return out.getvalue()


def hostile_findings() -> tuple[tuple[ir.Rule, ...], list[Finding]]:
    """Real findings whose every free-text field is markup, a script end or a line separator."""
    rules, findings = example_findings()
    failing = next(f for f in findings if f.verdict is Verdict.FAIL)
    meta = failing.rule.metadata
    rule = dataclasses.replace(failing.rule, metadata=dataclasses.replace(
        meta, title=HOSTILE, description=HOSTILE, references=("javascript:alert(3)",),
        remediation=ir.Remediation(HOSTILE, portal=HOSTILE, cli="</script><!--\u2028\u2029")))
    evidence = Evidence("properties.x", HOSTILE, "</script><!--<script>\u2028", True, Verdict.FAIL,
                        note=HOSTILE, site=HOSTILE)
    bad = dataclasses.replace(failing, rule=rule, resource_id=f"/subscriptions/{HOSTILE}/x/{HOSTILE}",
                              subscription_id=HOSTILE, evidence=(evidence,),
                              origin=dataclasses.replace(failing.origin, file=HOSTILE, address=HOSTILE))
    waived = dataclasses.replace(bad, resource_id=HOSTILE, verdict=Verdict.WAIVED, waiver=Waiver(
        HOSTILE, HOSTILE, HOSTILE, HOSTILE, datetime.date(2099, 1, 1), HOSTILE))
    return tuple(rule if r.id == rule.id else r for r in rules), [bad, waived]


# ---- static checks -------------------------------------------------------------------------

VOID = {"meta", "input", "col", "br", "hr", "img", "link", "source", "wbr", "area", "base", "embed"}
LOADING_TAGS = {"img", "link", "iframe", "frame", "object", "embed", "audio", "video", "source", "base"}
LOADING_ATTRS = {"src", "srcset", "poster", "data", "action", "formaction", "background", "xlink:href"}


class PageParser(HTMLParser):
    """Every tag and attribute, and the text of each script and style; end tags must close the
    element last opened (our markup closes everything explicitly)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.raw: list[tuple[str, dict[str, str], str]] = []  # script and style elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_startendtag(tag, attrs)
        if tag not in VOID:
            self.open.append(tag)
        if tag in ("script", "style"):
            self.raw.append((tag, {k: v or "" for k, v in attrs}, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attrs += [(tag, name, value or "") for name, value in attrs]

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else '-'}> at {self.getpos()}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] in ("script", "style"):
            tag, attrs, text = self.raw[-1]
            self.raw[-1] = (tag, attrs, text + data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.open == []
    return parser


def island(parser: PageParser, island_id: str) -> Any:
    [text] = [t for tag, a, t in parser.raw if tag == "script" and a.get("id") == island_id]
    return json.loads(text)


@pytest.mark.parametrize("name", ["example", "templates", "governed"])
def test_the_page_is_well_formed_and_loads_nothing(name: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    parser = parse(rendered.html)
    assert not LOADING_TAGS & set(parser.tags)
    for tag, attr, value in parser.attrs:
        assert attr not in LOADING_ATTRS, (tag, attr, value)
        if re.search(r"https?://", value):
            assert (tag, attr) == ("a", "href"), (tag, attr, value)
    [(_, _, style)] = [r for r in parser.raw if r[0] == "style"]
    [script] = [t for tag, a, t in parser.raw if tag == "script" and "type" not in a]
    assert "url(" not in style and "@import" not in style
    for call in ("fetch(", "XMLHttpRequest", "WebSocket", "EventSource", "sendBeacon", "import(",
                 ".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write"):
        assert call not in script
    [policy] = [v for tag, attr, v in parser.attrs if tag == "meta" and attr == "content" and "default-src" in v]
    for text in (style, script):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "unsafe" not in policy
    verdicts = rendered.doc["summary"]["verdicts"]
    assert len(island(parser, "findings")) == rendered.attention() + verdicts["pass"] + verdicts["not_applicable"]


def test_with_source_date_epoch_the_same_findings_give_the_same_bytes(
        example: Rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scan_to(tmp_path).path.read_bytes() == example.path.read_bytes()
    assert '<time id="generated" datetime="2023-11-14T22:13:20Z">2023-11-14 22:13:20 UTC</time> ' \
           "(<code>SOURCE_DATE_EPOCH</code>)" in example.html
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    findings = example_findings()[1]
    assert render(findings[::-1]) == render(findings)


def test_without_source_date_epoch_the_page_is_dated_now(tmp_path: Path) -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    page = scan_to(tmp_path, epoch=None).html
    after = datetime.datetime.now(datetime.UTC)
    [stamp] = re.findall(r'<time id="generated" datetime="([^"]+)">', page)
    assert before <= datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z") <= after
    assert "(<code>SOURCE_DATE_EPOCH</code>)" not in page
    assert scan_to(tmp_path / "empty", epoch="").html.count("(<code>SOURCE_DATE_EPOCH</code>)") == 0


@pytest.mark.parametrize("value", ["yesterday", "-1", "1.5", " 1700000000", "99999999999999999999"])
def test_a_malformed_source_date_epoch_stops_the_scan_before_it_starts(
        value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    page = tmp_path / "r.html"
    assert main(["scan", "--format", "html", "--output", str(page)]) == 2
    assert "SOURCE_DATE_EPOCH" in capsys.readouterr().err
    assert not page.exists()


def test_the_header_says_what_an_auditor_files(example: Rendered) -> None:
    """Scope, tool, rule set, time, result and failures by severity, each in the header."""
    parser = parse(example.html)
    header = example.html.split("<header>", 1)[1].split("</header>", 1)[0]
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", header.split("<nav", 1)[0]))
    assert list(facts) == ["Source", "Inputs", "Subscriptions", "Resources", "Tool", "Rules", "Generated",
                           "Result", "Failures by severity"]
    assert facts["Source"] == "Resource Graph export"
    assert facts["Inputs"] == '1: <span class="mono">examples/estate.json</span>'
    subscriptions = sorted({f["resource"]["subscriptionId"] for f in example.doc["findings"]})
    assert facts["Subscriptions"] == f"{len(subscriptions)}: " + ", ".join(
        f'<span class="mono">{s}</span>' for s in subscriptions)
    assert facts["Resources"] == f"{sum(example.doc['inputs']['resources'].values())} evaluated (" + ", ".join(
        f"{t.rsplit('/', 1)[-1]} {n}" for t, n in sorted(example.doc["inputs"]["resources"].items(),
                                                          key=lambda kv: (-kv[1], kv[0]))) + ")"
    assert facts["Tool"] == f"policyengine {__version__}"
    assert f"sha256:{rules_digest(load_rules([]))[:16]}</span>" in facts["Rules"]
    summary = example.doc["summary"]
    posture = {r["id"] for r in example.doc["rules"] if "posture" in r["tags"]}
    posture_failing = sum(1 for f in example.doc["findings"] if f["verdict"] == "fail" and f["rule"]["id"] in posture)
    assert facts["Result"].startswith(f"{summary['failing']} failing at or above severity info; {posture_failing} more "
                                      "from posture rules, which do not set the exit code; exit code 1")
    severity = {r["id"]: r["severity"] for r in example.doc["rules"]}
    failing = Counter(severity[f["rule"]["id"]] for f in example.doc["findings"] if f["verdict"] == "fail")
    shown = dict(re.findall(r'data-severity="(\w+)">(\d+)<', facts["Failures by severity"]))
    assert shown == {s: str(failing[s]) for s in ("critical", "high", "medium", "low", "info")}
    assert any(attr == "datetime" for tag, attr, _ in parser.attrs if tag == "time")


def test_templates_scope_names_templates_and_the_deployment_subscription(templates: Rendered) -> None:
    header = templates.html.split("<nav", 1)[0]
    assert "<dt>Source</dt><dd>templates and plans (pre-deployment)</dd>" in header
    declared = {f["resource"]["source"]["file"] for f in templates.doc["findings"]}
    assert f"<dt>Templates and plans</dt><dd>{len(declared)} files declaring resources" in header
    assert "and 2 more (listed under Scan status and inputs)" in header  # 7 inputs, 5 named
    assert ("<dt>Subscriptions</dt><dd>none named; chosen at deployment: <span class=\"mono\">[azurerm provider "
            'subscription]</span>, <span class="mono">[subscription().subscriptionId]</span></dd>') in header


def test_the_rules_digest_is_stable_and_follows_what_the_rules_judge() -> None:
    rules = load_rules([])
    digest = rules_digest(rules)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert rules_digest(rules[::-1]) == digest  # by id, not by the order they were loaded in
    first = rules[0]
    moved = dataclasses.replace(first, span=None, tests=())  # where it was read, its inline tests
    assert rules_digest((moved, *rules[1:])) == digest
    meta = first.metadata
    for changed in (dataclasses.replace(first, metadata=dataclasses.replace(meta, severity=ir.Severity.LOW)),
                    dataclasses.replace(first, on_missing=ir.OnMissing.PASS),
                    dataclasses.replace(first, metadata=dataclasses.replace(
                        meta, remediation=dataclasses.replace(meta.remediation, cli="az other")))):
        assert rules_digest((changed, *rules[1:])) != digest


def test_rule_titles_label_the_chart(example: Rendered) -> None:
    for rule in example.doc["rules"]:
        caption = f"{rule['id']} — {rule['title']}"
        assert f'<g class="bar" data-label="{rule["id"]}"' in example.html
        assert f"<title>{caption}</title>" in example.html.replace("&#x27;", "'")


def test_types_the_rules_read_are_not_listed_as_unread(example: Rendered) -> None:
    """An export holds server parameters and Defender plans the rules do not need: their types
    are read (the rules read eight parameters and one plan), and only other types are unread."""
    ignored = example.doc["inputs"]["ignored"]
    assert ignored["microsoft.dbforpostgresql/flexibleservers/configurations"] > 0
    parser = parse(example.html)
    unread = example.html.split('id="ignored-by-type"', 1)[1].split("</table>", 1)[0]
    others = example.html.split('id="other-rows-by-type"', 1)[1].split("</table>", 1)[0]
    assert "configurations" not in unread and "pricings" not in unread
    assert "microsoft.compute/virtualmachines" in unread and "microsoft.storage/storageaccounts" in unread
    assert ('<td class="mono">microsoft.dbforpostgresql/flexibleservers/configurations</td><td class="num">'
            f'{ignored["microsoft.dbforpostgresql/flexibleservers/configurations"]}</td>'
            '<td class="mono">connection_throttle.enable, log_checkpoints, log_connections, log_disconnections, '
            'logfiles.retention_days, password_encryption, require_secure_transport, ssl_min_protocol_version</td>'
            ) in others
    assert '<td class="mono">microsoft.security/pricings</td>' in others
    assert parser.tags["table"] >= 2
    read = read_by_rules(load_rules([]))
    assert read["microsoft.dbforpostgresql/servers/securityalertpolicies"] == {"Default"}
    assert read["microsoft.dbforpostgresql/flexibleservers"] == set()
    assert split_ignored(load_rules([]), {"a/b": 1, "microsoft.security/pricings": 2}) == (
        {"a/b": 1}, {"microsoft.security/pricings": 2})
    # With only the single-server rules, a flexible server's parameters are of a type no rule reads.
    single = tuple(r for r in load_rules([]) if r.id.startswith("PG-SINGLE"))
    assert split_ignored(single, ignored)[0]["microsoft.dbforpostgresql/flexibleservers/configurations"] > 0


def test_each_finding_carries_the_fix_for_its_own_resource() -> None:
    findings = example_findings()[1]
    rows = island(parse(render(findings)), "findings")
    listed = sorted((f for f in findings), key=html_report._sort_key)
    assert len(rows) == len(listed)
    for row, finding in zip(rows, listed, strict=True):
        if finding.verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE):
            assert "fix" not in row
        else:
            assert row["fix"] == fix_command(finding)
            assert "<resource-group>" not in row["fix"] and "<server>" not in row["fix"]
    some = next(r for r in rows if r["verdict"] == "fail" and "flexible-server parameter set" in r.get("fix", ""))
    assert "--resource-group rg-" in some["fix"] and f"--server-name {some['name'].split('/')[-1]}" in some["fix"]


def test_hostile_text_is_escaped_in_markup_and_in_the_data_island() -> None:
    rules, findings = hostile_findings()
    stats = Stats(ignored=Counter({HOSTILE: 1, "microsoft.security/pricings": 1}))
    context = ReportContext((HOSTILE,), stats, ScanStatus(HOSTILE, tenant_id=HOSTILE))
    page = render(findings, rules, context)
    parser = parse(page)
    header = page.split("<header>", 1)[1].split("</header>", 1)[0]
    assert header.count(html.escape(HOSTILE)) == 4  # source, tenant, input, subscription
    assert parser.tags["script"] == 3 and parser.tags["img"] == 0
    assert "<script>alert" not in page and "<img" not in page and "<!--" not in page
    for _, attrs, text in parser.raw:
        if attrs.get("type") == "application/json":
            assert not set("<\u2028\u2029") & set(text)
    assert 'href="javascript:' not in page
    rows = island(parser, "findings")
    assert {r["resource"] for r in rows} == {HOSTILE, f"/subscriptions/{HOSTILE}/x/{HOSTILE}"}
    assert [r["waiver"]["justification"] for r in rows if r["verdict"] == "waived"] == [HOSTILE]
    assert any("</script><!--<script>\u2028" in e["text"] for r in rows for e in r["evidence"])


def test_island_json_reads_back_the_same_value() -> None:
    value = {"a": "</script><!--\u2028\u2029&<>", "b": [HOSTILE]}
    text = island_json(value)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == value


def test_passing_findings_past_the_limit_are_counted_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    findings = example_findings()[1]
    counts = Counter(f.verdict for f in findings)
    limit = counts[Verdict.NOT_APPLICABLE]
    assert counts[Verdict.PASS] > limit > 0
    monkeypatch.setattr(html_report, "QUIET_LIMIT", limit)
    page = render(findings)
    listed = Counter(r["verdict"] for r in island(parse(page), "findings"))
    assert listed["pass"] == 0 and listed["not_applicable"] == limit and listed["fail"] == counts[Verdict.FAIL]
    assert f"Not listed here: {counts[Verdict.PASS]} pass findings" in page
    assert f'<option value="pass" disabled>pass ({counts[Verdict.PASS]}: too many to list)' in page
    assert f'<span class="count" data-verdict="pass">{counts[Verdict.PASS]}</span>' in page


def test_an_incomplete_scan_says_what_was_not_evaluated() -> None:
    scan = ScanStatus("snapshot", [Gap("microsoft.dbforpostgresql/servers", "403 <Forbidden>", ("s-2", "s-1"))],
                      ["flexible servers query"])
    page = render(example_findings()[1], context=ReportContext(("snap.ndjson",), Stats(), scan))
    parse(page)
    assert 'data-complete="false"' in page and "INCOMPLETE" in page
    assert "<td class=\"mono\">s-1, s-2</td><td>403 &lt;Forbidden&gt;</td>" in page
    assert "flexible servers query" in page


def test_baseline_findings_are_marked_and_not_counted() -> None:
    findings = [dataclasses.replace(f, baseline=True) if f.verdict is Verdict.FAIL else f
                for f in example_findings()[1]]
    failing = sum(f.verdict is Verdict.FAIL for f in findings)
    page = render(findings, context=ReportContext(("examples/estate.json",), Stats(), baseline="last.json"))
    rows = island(parse(page), "findings")
    assert sum(r.get("baseline", False) for r in rows) == failing
    assert f"{failing} more already in the baseline, not counted" in page
    assert '<span class="mono">last.json</span>' in page


# ---- in the browser ------------------------------------------------------------------------

@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright; the test is skipped without it (failed under
    ``CI_REQUIRE_BROWSER=1``)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent (apt-get install chromium): the browser checks cannot run"
        if os.environ.get("CI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and CI_REQUIRE_BROWSER=1 requires them")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module: a new page per test is cheap, a launch is not."""
    with chromium() as launched:
        yield launched


@dataclasses.dataclass
class Shown:
    """A page in the browser, and everything it did that it should not."""

    page: Page
    errors: list[str]
    requests: list[str]
    dialogs: list[str]

    def rows(self) -> int:
        return self.page.locator("#findings-body > tr").count()

    def clean(self, url: str) -> None:
        assert self.errors == [] and self.dialogs == []
        assert self.requests == [url]


@pytest.fixture
def show(browser: Browser, tmp_path: Path) -> Iterator[Callable[[Path | str], Shown]]:
    pages: list[Page] = []

    def open_(source: Path | str) -> Shown:
        path = source if isinstance(source, Path) else tmp_path / "page.html"
        if isinstance(source, str):
            path.write_text(source, encoding="utf-8")
        page = browser.new_page()
        pages.append(page)
        shown = Shown(page, [], [], [])
        page.on("console", lambda m: shown.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: shown.errors.append(str(e)))
        page.on("request", lambda r: shown.requests.append(r.url))

        def dialog(opened: Dialog) -> None:  # alert(): the injected script ran
            shown.dialogs.append(opened.message)
            opened.dismiss()

        page.on("dialog", dialog)
        page.goto(path.as_uri())
        return shown

    yield open_
    for page in pages:
        page.close()


def test_the_summary_and_charts_show_the_counts(example: Rendered, show: Callable[[Path | str], Shown]) -> None:
    shown = show(example.path)
    page, summary = shown.page, example.doc["summary"]
    for verdict, n in summary["verdicts"].items():
        assert page.inner_text(f'#verdict-counts [data-verdict="{verdict}"]') == str(n)
    assert page.inner_text('#verdict-counts [data-verdict="total"]') == str(summary["total"])
    assert page.locator("#chart-rules").get_attribute("role") == "img"
    assert page.locator("#chart-rules > title").text_content() == "Verdicts by rule"
    labels = {"not_applicable": "n/a"}
    for rule in summary["rules"]:
        bar = page.locator(f'#chart-rules g.bar[data-label="{rule["id"]}"]')
        tally = bar.locator("text.tally").text_content() or ""
        for verdict in summary["verdicts"]:
            segment = bar.locator(f'rect.seg[data-verdict="{verdict}"]')
            if rule[verdict]:
                assert segment.get_attribute("data-count") == str(rule[verdict])
                assert (segment.bounding_box() or {"width": 0})["width"] > 0
                assert f"{rule[verdict]} {labels.get(verdict, verdict)}" in tally
            else:
                assert segment.count() == 0
    subscriptions = {f["resource"]["subscriptionId"] for f in example.doc["findings"]}
    assert page.locator("#chart-subscriptions g.bar").count() == len(subscriptions)
    shown.clean(example.path.as_uri())


def test_the_findings_table_and_its_filters(example: Rendered, show: Callable[[Path | str], Shown]) -> None:
    shown = show(example.path)
    page, verdicts = shown.page, example.doc["summary"]["verdicts"]
    assert shown.rows() == verdicts["fail"] + verdicts["unknown"] + verdicts["error"] == example.attention()
    page.select_option("#f-verdict", "fail")
    assert shown.rows() == verdicts["fail"]
    page.select_option("#f-verdict", "pass")
    assert shown.rows() == verdicts["pass"]
    page.select_option("#f-verdict", "attention")
    page.select_option("#f-severity", "high")
    assert shown.rows() == example.attention(lambda f: f["rule"]["severity"] == "high")
    page.select_option("#f-severity", "")
    page.fill("#f-search", "PGSQL-legacy-hr")
    expected = example.attention(lambda f: "pgsql-legacy-hr" in f["resource"]["id"])
    assert 0 < shown.rows() == expected
    assert page.inner_text("#findings-shown").startswith(f"Showing {expected} of {expected}")
    page.select_option("#f-rule", "PG-SINGLE-002")
    assert shown.rows() == 1
    [finding] = [f for f in example.doc["findings"] if f["rule"]["id"] == "PG-SINGLE-002"
                 and "pgsql-legacy-hr" in f["resource"]["id"]]
    fix = ("az resource update --resource-group rg-hr-legacy --namespace Microsoft.DBforPostgreSQL "
           "--resource-type servers --name pgsql-legacy-hr")
    assert page.inner_text("#findings-body .fix code").startswith(fix)  # shown for a failure
    page.click("#findings-body details summary")
    detail = page.inner_text("#findings-body details")
    assert "With the Azure CLI" in detail and fix in detail and "<resource-group>" not in detail
    assert finding["verdict"] == "fail"
    page.click("button[type=reset]")
    page.wait_for_function(f"document.querySelectorAll('#findings-body > tr').length === {example.attention()}")
    shown.clean(example.path.as_uri())


def test_templates_show_where_each_resource_is_declared(templates: Rendered,
                                                        show: Callable[[Path | str], Shown]) -> None:
    shown = show(templates.path)
    assert shown.rows() == templates.attention()
    table = shown.page.inner_text("#findings-body")
    for finding in templates.doc["findings"]:
        source = finding["resource"]["source"]
        if finding["verdict"] == "fail" and "line" in source:
            assert f'{source["file"]}:{source["line"]}:{source["column"]} · {source["address"]}' in table
        elif finding["verdict"] == "fail":
            assert f'{source["file"]} · {source["address"]}' in table
    declared = "[subscription().subscriptionId]"
    shown.page.select_option("#f-subscription", declared)
    assert 0 < shown.rows() == templates.attention(lambda f: f["resource"]["subscriptionId"] == declared)
    shown.clean(templates.path.as_uri())


def test_waivers_and_controls(governed: Rendered, show: Callable[[Path | str], Shown]) -> None:
    shown = show(governed.path)
    page = shown.page
    page.select_option("#f-verdict", "waived")
    assert shown.rows() == governed.doc["summary"]["verdicts"]["waived"] == 1
    page.click("#findings-body details summary")
    detail = page.inner_text("#findings-body details")
    for text in ("Sandbox servers hold synthetic data only", "platform-team@contoso.com", "2099-12-31",
                 "waivers.yaml:8:5"):
        assert text in detail
    counts = {r["id"]: {Verdict(v): r[v] for v in governed.doc["summary"]["verdicts"]}
              for r in governed.doc["summary"]["rules"]}
    framework = frameworks.framework(load_rules([]), "mcsb")
    for control in framework.controls:
        expected = frameworks.status([counts[r.id] for r in control.rules])
        assert page.get_attribute(f'#controls-table tr[data-control="{control.id}"]', "data-status") == expected.value
    shown.clean(governed.path.as_uri())


def test_hostile_text_is_shown_as_text_and_runs_nothing(show: Callable[[Path | str], Shown]) -> None:
    rules, findings = hostile_findings()
    shown = show(render(findings, rules))
    page = shown.page
    assert page.evaluate("document.scripts.length") == 3
    assert page.evaluate("document.images.length") == 0
    assert shown.rows() == 2
    page.click("#findings-body details summary")
    table = page.inner_text("#findings-body")
    assert HOSTILE in table and "</script><!--<script>" in table
    assert page.locator("#findings-body a[href^='javascript']").count() == 0
    assert shown.errors == [] and shown.dialogs == []


def test_rows_come_a_page_at_a_time(show: Callable[[Path | str], Shown]) -> None:
    failing = next(f for f in example_findings()[1] if f.verdict is Verdict.FAIL)
    many = [dataclasses.replace(failing, resource_id=f"{failing.resource_id}-{i:04}") for i in range(620)]
    shown = show(render(many))
    assert shown.rows() == 500
    shown.page.click("#findings-more")
    assert shown.rows() == 620
    assert shown.page.locator("#findings-more").is_hidden()
    assert shown.errors == []
