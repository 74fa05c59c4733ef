"""Hostile files where the user configures a scan: rules, waivers, the configuration, rule test
files, catalogs, baselines and ``-p`` values (issue 11).

Each case is one hostile input in an otherwise good command. It must end in exit 2 with a
message that starts with the file's name, and its line and column where the file has lines;
never a traceback (``main`` lets anything but a policyengine error through, so an exception
fails the test by itself). The decisions these cases pin down:

* an integer of more than 4,300 digits (Python's bound on reading one) is refused where it
  stands, in YAML, in a baseline's JSON and in ``-p``;
* YAML ``.nan``, ``.inf`` and a float that overflows (``1e400``) are refused: every report is
  JSON, which has no NaN or Infinity, and a comparison with NaN would be false whatever the
  value. A baseline refuses ``NaN``, ``Infinity`` and ``1e400`` as strict JSON does;
* a lone surrogate escape is refused in YAML (the YAML reader has no way to hold one) but read
  in a baseline: a report escapes one it found in a resource id, and must serve as a baseline;
* an empty rule, waiver, test or configuration file is an error, not a silent no-op.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from policyengine.cli import main
from tests.cli.test_scan import flex
from tests.conftest import rule_text

ROOT = Path(__file__).resolve().parents[1]
HUGE = "9" * 5000
DEEP = "[" * 100_000
BINARY = b"\x00\xff\xfe garbage \x89PNG\r\n"
DIRECTORY = object()


class Case(NamedTuple):
    """One hostile file: what it is, where it goes, and the error it must give (at ``where``:
    line and column, line only, or None for an error of the whole file)."""

    id: str
    kind: str
    content: str | bytes | object
    message: str
    where: tuple[int, int] | tuple[int, None] | None

RULE = rule_text("resource: Microsoft.DBforPostgreSQL/flexibleServers\ncondition: {field: name, equals: VALUE}",
                 rule_id="HOSTILE-1")
WAIVERS = ("apiVersion: policyengine/v1\nkind: Waivers\nwaivers:\n  - rule: PG-FLEX-001\n    resource: VALUE\n"
           "    justification: An accepted risk, on record.\n    owner: team@contoso.com\n    expires: 2099-01-01\n")
CONFIG = "apiVersion: policyengine/v1\nkind: Config\nfailOn: VALUE\n"
TESTS = ("apiVersion: policyengine/v1\nkind: RuleTests\nrule: HOSTILE-1\ntests:\n"
         "  - name: hostile\n    resource: {name: VALUE}\n    expect: pass\n")
TEMPLATES = {"rules": RULE, "waivers": WAIVERS, "config": CONFIG, "tests": TESTS}


def _at(template: str) -> tuple[int, int]:
    """Where VALUE stands in a template: (line, column), 1-based."""
    before = template[:template.index("VALUE")]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


AT = {kind: _at(template) for kind, template in TEMPLATES.items()}
FILE_NAMES = {"rules": "r.yaml", "waivers": "w.yaml", "config": "c.yaml", "tests": "x.tests.yaml",
              "baseline": "b.json"}

#: (value put at VALUE, where the error is relative to VALUE (None: line 1, col 1), message).
YAML_VALUES: dict[str, tuple[str, int, str]] = {
    "huge-int": (HUGE, 0, "an integer of 5000 digits: at most 4300 are read"),
    "huge-negative-int": ("-" + HUGE, 0, "an integer of 5000 digits: at most 4300 are read"),
    "huge-hex-int": ("0x" + "f" * 5000, 0, "an integer of 5000 digits"),
    "deep": (DEEP, 1000, "invalid YAML: exceeded maximum nesting depth"),
    "deep-mapping": ("{a: " * 100_000, 4000, "invalid YAML: exceeded maximum nesting depth"),
    "nan": (".nan", 0, "NaN is not a number JSON can hold; write a finite number"),
    "infinity": ("-.inf", 0, "'-.inf' (infinite) is not a number JSON can hold"),
    "overflow": ("1e400", 0, "'1e400' (infinite) is not a number JSON can hold"),
    "surrogate-escape": ('"\\ud800"', 3, "invalid YAML: found invalid Unicode character escape code"),
    "control-character": ("x\u001b]8;;http://evil\u0007x", 1,
                          "invalid YAML: character '\\x1b' (U+001B): control characters are not allowed"),
    "nul": ("x\u0000", 1, "invalid YAML: character '\\x00' (U+0000)"),
}


def _yaml_cases() -> list[Case]:
    cases: list[Case] = []
    for kind, template in TEMPLATES.items():
        line, col = AT[kind]
        for name, (value, offset, message) in YAML_VALUES.items():
            # libyaml stops at its own depth bound, some way into the value.
            where = (line, None) if name.startswith("deep") else (line, col + offset)
            cases.append(Case(f"{kind}-{name}", kind, template.replace("VALUE", value), message, where))
        cases.append(Case(f"{kind}-surrogate-bytes", kind,
                          template.replace("VALUE", "x").encode() + b"# \xed\xa0\x80\n",
                          "not UTF-8 text: byte 0xed cannot be decoded", (template.count("\n") + 1, 3)))
        cases.append(Case(f"{kind}-binary", kind, BINARY, "not UTF-8 text: byte 0xff cannot be decoded", (1, 2)))
        # `policyengine test` takes a directory for a rule directory, whatever its name.
        cases.append(Case(f"{kind}-directory", kind, DIRECTORY,
                          "no rule files (*.yaml, *.yml) in this directory" if kind in ("rules", "tests")
                          else "--config names a directory" if kind == "config" else "Is a directory", None))
        empty = {"rules": "the file holds no rule", "waivers": "the waiver file holds no waivers",
                 "config": "a configuration file holds exactly one YAML document",
                 "tests": "the test file holds no tests"}[kind]
        cases.append(Case(f"{kind}-empty", kind, "", empty, (1, 1)))
        cases.append(Case(f"{kind}-only-comments", kind, "# nothing here\n", empty, (1, 1)))
    return cases


def _report(findings: str = "[]", **extra: str) -> str:
    members = "".join(f', "{k}": {v}' for k, v in extra.items())
    return f'{{"tool": {{"name": "policyengine", "version": "0"}}{members}, "findings": {findings}}}'


FINDING = '{"fingerprint": "f1", "verdict": "fail", "value": VALUE}'


def _finding(value: str, *, before: str = "") -> str:
    return _report(f"[{before}{FINDING.replace('VALUE', value)}]")


def _where(text: str, marker: str) -> tuple[int, int]:
    """The line and column of the last ``marker`` in ``text``."""
    before = text[:text.rindex(marker)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _baseline(case: str, text: str | bytes | object, marker: str | None, message: str) -> Case:
    where = _where(text, marker) if isinstance(text, str) and marker is not None else None
    return Case(f"baseline-{case}", "baseline", text, message, where)


BASELINE_CASES = [
    _baseline("huge-int", _finding(HUGE), HUGE, "number out of range: an integer of 5000 digits"),
    _baseline("huge-int-outside-findings", _report(summary=HUGE), HUGE, "number out of range: an integer of 5000 digits"),
    # Depth counts from the finding's own brace: the 256th bracket inside it is the 257th level.
    _baseline("deep", _finding(DEEP + "]" * 100_000), "[" * (100_000 - 255),
              "JSON nested more than 256 deep"),
    _baseline("nan", _finding("NaN"), "NaN", "NaN is not JSON: a number must be finite"),
    _baseline("infinity", _finding("-Infinity"), "-Infinity", "-Infinity is not JSON: a number must be finite"),
    _baseline("overflow", _finding("1e400"), "1e400", "number out of range: 1e400 overflows a 64-bit float"),
    _baseline("nan-on-a-later-line", _finding("NaN", before=FINDING.replace("VALUE", "1") + ",\n"), "NaN",
              "NaN is not JSON: a number must be finite"),
    _baseline("control-character", _finding('"\u001b[2J"'), "\u001b", "invalid JSON: Invalid control character at"),
    _baseline("truncated", _finding('"cut short'), '"cut', "invalid JSON: Unterminated string"),
    _baseline("empty", "", "", "invalid JSON: expected '{', found end of file"),
    _baseline("not-a-report", "[1, 2]", "[", "invalid JSON: expected '{', found '['"),
    _baseline("binary", BINARY, None, "not UTF-8 text"),
    _baseline("directory", DIRECTORY, None, "cannot read the baseline: Is a directory"),
]

CASES = _yaml_cases() + BASELINE_CASES


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in flex("good", "on")), encoding="utf-8")
    return path


def _argv(kind: str, path: Path, good: Path, tmp_path: Path) -> list[str]:
    if kind == "tests":
        rule = tmp_path / "hostile-rule.yaml"
        rule.write_text(RULE.replace("VALUE", "x"), encoding="utf-8")
        return ["test", str(rule), str(path)]
    option = {"rules": "--rules", "waivers": "--waivers", "config": "--config", "baseline": "--baseline"}[kind]
    return ["scan", str(good), option, str(path), "--quiet"]


def _place(tmp_path: Path, kind: str, content: str | bytes | object) -> Path:
    path = tmp_path / "hostile" / FILE_NAMES[kind]
    path.parent.mkdir()
    if content is DIRECTORY:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        assert isinstance(content, str)
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_file_is_a_located_error(tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str],
                                           case: Case) -> None:
    path = _place(tmp_path, case.kind, case.content)
    code = main(_argv(case.kind, path, good, tmp_path))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    first = err.splitlines()[0]
    if case.where is None:
        prefix = f"{path}: "
    elif case.where[1] is None:
        prefix = f"{path}:{case.where[0]}:"
    else:
        prefix = f"{path}:{case.where[0]}:{case.where[1]}: "
    assert first.startswith(prefix), first
    assert case.message in first, first
    # What the user wrote is escaped, never sent to the terminal as it is.
    assert "\u001b" not in err and "\u0007" not in err


#: (parameter, value, message after "policyengine: -p NAME: ").
INLINE_CASES: list[tuple[str, str, str, str]] = [
    ("int-huge", "serverCount", HUGE, "an int of 5000 digits: at most 4300 are read"),
    ("int-huge-signed", "serverCount", "-" + HUGE, "an int of 5000 digits: at most 4300 are read"),
    ("int-nan", "serverCount", "NaN", "'NaN' is not an int"),
    ("int-control", "serverCount", "\u001b[2J", "'\\x1b[2J' is not an int"),
    ("int-long-text", "serverCount", "x" * 100_000, f"{'x' * 60!r}... (100000 characters) is not an int"),
    ("array-huge-int", "securityEmails", f"[{HUGE}]", "the value must be JSON (-p securityEmails:1:2: "
                                                      "number out of range: an integer of 5000 digits)"),
    ("array-deep", "securityEmails", DEEP, "the value must be JSON (-p securityEmails:1:257: JSON nested more "
                                           "than 256 deep)"),
    ("array-nan", "securityEmails", "[NaN]", "the value must be JSON (-p securityEmails:1:2: unexpected 'N': "
                                             "expected a JSON value)"),
    ("array-infinity", "securityEmails", "[1e400]", "the value must be JSON (-p securityEmails:1:2: number out "
                                                    "of range: 1e400)"),
    ("bool-garbage", "deployReplica", "\u0000\u00ff", "'\\x00ÿ' is not true or false"),
]


@pytest.mark.parametrize(("name", "value", "message"), [c[1:] for c in INLINE_CASES], ids=[c[0] for c in INLINE_CASES])
def test_a_hostile_inline_parameter_is_a_usage_error(capsys: pytest.CaptureFixture[str], name: str, value: str,
                                                     message: str) -> None:
    template = "flexible-insecure.json" if name == "serverCount" else "single-server.json"
    code = main(["scan", str(ROOT / "examples" / "templates" / template), "-p", f"{name}={value}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == f"policyengine: -p {name}: {message}\n"


def test_an_unknown_parameter_name_is_shown_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", str(ROOT / "examples" / "templates" / "flexible-insecure.json"), "-p", "\u001b]0;x=1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("policyengine: -p '\\x1b]0;x': the template declares no such parameter")


def test_a_lone_surrogate_in_a_baseline_is_read(tmp_path: Path, good: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A report escapes a lone surrogate it found in a resource id; read back as a baseline, the
    escape is a string like any other."""
    path = tmp_path / "b.json"
    path.write_text(_report('[{"fingerprint": "f\\ud800", "verdict": "fail", "resource": {"id": "x\\ud800"}}]'),
                    encoding="utf-8")
    code = main(["scan", str(good), "--baseline", str(path), "--quiet"])
    assert code in (0, 1), capsys.readouterr().err


def test_a_nul_in_a_configured_path_is_located(tmp_path: Path, good: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('apiVersion: policyengine/v1\nkind: Config\nwaivers:\n  - "w\\0.yaml"\n', encoding="utf-8")
    code = main(["scan", str(good), "--config", str(path), "--quiet"])
    assert code == 2
    assert capsys.readouterr().err == f"{path}:4:5: waivers[0]: a path cannot hold a NUL character\n"


def test_a_missing_configuration_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--config", str(tmp_path / "none.yaml")])
    assert code == 2
    assert capsys.readouterr().err == f"{tmp_path / 'none.yaml'}: --config: no such file\n"


def test_a_match_pattern_that_backtracks_elsewhere_cannot_hang_a_scan(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """``(a+)+b`` against 40 a's and a c: Python's re took more than 75 s (issue 11)."""
    rule = tmp_path / "r.yaml"
    rule.write_text(rule_text("resource: Microsoft.DBforPostgreSQL/flexibleServers\n"
                              "condition: {field: name, match: '(a+)+b'}", rule_id="RE-1"), encoding="utf-8")
    export = tmp_path / "e.ndjson"
    name = "a" * 40 + "c"
    export.write_text("".join(json.dumps(row) + "\n" for row in flex(name, "on")), encoding="utf-8")
    report = tmp_path / "r.json"
    argv = ["scan", str(export), "--no-bundled-rules", "--rules", str(rule), "--format", "json", "-o", str(report)]
    code = _timed(lambda: main(argv), 1.0)
    assert code == 1, capsys.readouterr().err
    (finding,) = json.loads(report.read_text(encoding="utf-8"))["findings"]
    assert finding["verdict"] == "fail" and finding["resource"]["id"].endswith(name)


def _timed(run: Callable[[], int], limit: float) -> int:
    import time

    started = time.perf_counter()
    code = run()
    assert time.perf_counter() - started < limit
    return code


@pytest.mark.parametrize("case", ["rules-huge-int", "baseline-deep"])
def test_the_installed_command_prints_no_traceback(tmp_path: Path, good: Path, case: str) -> None:
    """The same cases through a real process: what a user's terminal shows."""
    hostile = next(c for c in CASES if c.id == case)
    path = _place(tmp_path, hostile.kind, hostile.content)
    done = subprocess.run([sys.executable, "-m", "policyengine", *_argv(hostile.kind, path, good, tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{path}:") and hostile.message in done.stderr
