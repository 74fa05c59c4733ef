"""The KQL checker fixture: fails (never skips) when Node or ``npm ci`` is missing, because a
skipped parser check would let an invalid query reach Azure unnoticed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kql.kqlcheck import KqlChecker, missing_prerequisites, node_path

_CHECKERS: list[KqlChecker] = []


@pytest.fixture(scope="session")
def kql() -> Iterator[KqlChecker]:
    problem = missing_prerequisites()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    checker = KqlChecker(node_path())
    _CHECKERS.append(checker)
    yield checker
    checker.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for checker in _CHECKERS:
        terminalreporter.write_line(
            f"KQL parser: {checker.queries} queries in {checker.runs} batches, {checker.seconds:.1f} s in Node")
