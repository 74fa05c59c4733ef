"""Microsoft's KQL parser from Python: ``checker.js``, one Node process per test session.

Starting Node and loading Kusto.Language takes about a second; checking one query takes a few
milliseconds. So Node starts once (``checker.js --serve``), and callers hand over every query
they have in one batch (:meth:`KqlChecker.check`) and look the results up by name.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKER = HERE / "checker.js"
PACKAGE = HERE / "node_modules" / "@kusto" / "language-service-next" / "package.json"
INSTALL = "npm ci --prefix tests/kql"


@dataclass(frozen=True)
class KqlDiagnostic:
    source: str  # syntax | semantic | analyzer | arg-rules
    severity: str  # error | warning | suggestion | information
    code: str
    message: str
    start: int
    length: int
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.severity} {self.code} [{self.source}] {self.message}"


#: Functions the parser calls deprecated that the compiler writes in their old spelling on
#: purpose: Microsoft's published Resource Graph queries use ``pack()`` (54 uses) and never
#: ``bag_pack()`` (../shared/arg-dialect/evidence.json), so the new name has no evidence
#: that Resource Graph knows it.
OLD_NAMES_ARG_ACCEPTS = frozenset({"pack"})
_DEPRECATED = re.compile(r"The function '(\w+)' is deprecated")


def _old_name_arg_accepts(diagnostic: KqlDiagnostic) -> bool:
    found = _DEPRECATED.match(diagnostic.message) if diagnostic.code == "KS507" else None
    return found is not None and found.group(1) in OLD_NAMES_ARG_ACCEPTS


@dataclass(frozen=True)
class KqlResult:
    """What the parser made of one query."""

    name: str
    query: str
    diagnostics: tuple[KqlDiagnostic, ...]
    literals: tuple[str, ...]  # string literal values, unescaped by the parser
    numbers: tuple[str, ...]  # numeric literal values as the parser computed them
    names: tuple[str, ...]  # identifiers
    columns: tuple[tuple[str, str], ...]  # the result's (column, type), as the binder types them
    shape: tuple[str, ...] = field(repr=False)  # syntax kinds, without literal or name texts

    def problems(self, allowed: Iterable[str] = ()) -> list[KqlDiagnostic]:
        """Every diagnostic of severity error or warning whose code is not in ``allowed``,
        except the deprecation of a name Resource Graph is known to accept only in its old
        spelling (:data:`OLD_NAMES_ARG_ACCEPTS`)."""
        allow = set(allowed)
        return [d for d in self.diagnostics if d.severity in ("error", "warning") and d.code not in allow
                and not _old_name_arg_accepts(d)]

    def report(self, diagnostics: Iterable[KqlDiagnostic] | None = None) -> str:
        """The query with numbered lines, then the diagnostics: an assertion message."""
        shown = list(self.diagnostics if diagnostics is None else diagnostics)
        lines = [f"{n:4} | {line}" for n, line in enumerate(self.query.split("\n"), 1)]
        return "\n".join([f"{self.name}:", *lines, *(f"  {d}" for d in shown)])


class KqlChecker:
    """A running ``checker.js --serve``; counts the batches and the seconds spent in Node."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.runs = 0
        self.queries = 0
        self.seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            self._process = subprocess.Popen([self.node, str(CHECKER), "--serve"], cwd=HERE,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)
        return self._process

    def _ask(self, request: Any) -> Any:
        started = time.perf_counter()
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        # ASCII JSON on one line: a query's own line breaks and U+2028 are escaped in it.
        process.stdin.write(json.dumps(request).encode("ascii") + b"\n")
        process.stdin.flush()
        line = process.stdout.readline()
        self.seconds += time.perf_counter() - started
        self.runs += 1
        if not line:
            # checker.js writes to stderr only when it stops, so the pipe cannot fill up.
            _, errors = process.communicate(timeout=30)
            self._process = None
            raise RuntimeError(f"checker.js stopped (exit {process.returncode}): "
                               f"{errors.decode('utf-8', 'replace').strip()}")
        return json.loads(line)

    def check(self, queries: Mapping[str, str]) -> dict[str, KqlResult]:
        """Parse and analyse every query in one batch; results by name."""
        answer = self._ask([{"name": n, "query": q} for n, q in queries.items()])
        self.queries += len(queries)
        results = {r["name"]: _result(r, queries[r["name"]]) for r in answer}
        assert results.keys() == queries.keys(), "checker.js lost or renamed a query"
        return results

    def keywords(self) -> list[str]:
        """The texts of Kusto.Language's keywords (``where``, ``in~``, ``title``, ...)."""
        return [str(k) for k in self._ask("keywords")]

    def check_one(self, query: str, name: str = "query") -> KqlResult:
        return self.check({name: query})[name]

    def close(self) -> None:
        if self._process is not None:
            self._process.communicate(timeout=30)  # closes stdin: checker.js ends
            self._process = None


def _result(raw: dict[str, Any], query: str) -> KqlResult:
    return KqlResult(
        name=raw["name"], query=query,
        diagnostics=tuple(KqlDiagnostic(**d) for d in raw["diagnostics"]),
        literals=tuple(raw["literals"]), numbers=tuple(raw["numbers"]),
        names=tuple(raw["names"]), columns=tuple((c["name"], c["type"]) for c in raw["columns"]),
        shape=tuple(raw["shape"]),
    )


def missing_prerequisites() -> str | None:
    """Why the checker cannot run here (no Node, no ``npm ci``), or None."""
    if shutil.which("node") is None:
        return (f"Node.js is not on PATH: the KQL tests run Microsoft's KQL parser under Node. "
                f"Install Node.js 18 or newer, then run `{INSTALL}` from the project root.")
    if not PACKAGE.is_file():
        return (f"{PACKAGE.parent.relative_to(HERE.parent.parent)} is missing: "
                f"run `{INSTALL}` from the project root before pytest.")
    return None


def node_path() -> str:
    node = shutil.which("node")
    assert node is not None
    return node
