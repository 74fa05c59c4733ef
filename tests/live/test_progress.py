"""Progress of a live scan: drawn on a terminal (subscriptions, resources per type, ARM reads,
throttling waits), one line never wider than the terminal, erased before the report; never
drawn into a pipe, nor with --no-progress or --quiet."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.azurefake.server import FakeAzure, Fault
from tests.conftest import Result
from tests.live.terminal import ERASE_BYTES, Screen, fits, on_terminal

Cli = Callable[..., Result]
Start = Callable[..., FakeAzure]
GRAPH = r"/providers/Microsoft.ResourceGraph/resources$"
#: A scan slow enough to be redrawn several times: ARM reads one at a time, each 20 ms.
SLOW = ("--concurrency", "1")


def report_after(screen: Screen) -> dict[str, object]:
    """The JSON report on the terminal (its line ends translated back)."""
    text = screen.text[screen.text.index("{"):].replace("\r\n", "\n")
    report, _ = json.JSONDecoder().raw_decode(text)
    assert isinstance(report, dict)
    return report


def test_a_live_scan_shows_its_progress_on_a_terminal_and_erases_it(azure_env: Start) -> None:
    azure_env(delay=0.02, faults=[
        Fault("POST", GRAPH, 429, headers={"Retry-After": "0.3"}, times=1),
        Fault("GET", r"/configurations$", 429, headers={"Retry-After": "0.2"}, times=1)])
    screen = on_terminal(["scan", "--azure", "--format", "json", "--timeout", "5", *SLOW], columns=200)
    assert screen.code in (0, 1), screen.text[-2000:]
    drawn = screen.drawn()
    assert drawn[0] == "signing in"
    assert any(line.startswith("3 subscriptions") for line in drawn)
    # Both throttled requests, each shown at once with its wait (Resource Graph's with up
    # to 10 % jitter), ahead of the counts.
    assert any(line.startswith("throttled: waiting 0.3 s, 3 subscriptions") for line in drawn)
    assert any(line.startswith("throttled: waiting 0.2 s") for line in drawn)
    counted = [line for line in drawn if "flexibleServers" in line and "ARM reads" in line]
    assert counted, drawn
    done, planned = counted[-1].rsplit("ARM reads ", 1)[1].split(",")[0].split("/")
    assert 0 < int(done) <= int(planned)
    # The last thing before the report is the erase: the report starts on a clean line.
    assert screen.before("{").endswith("\r\x1b[K")
    assert len(report_after(screen)["findings"]) > 0  # type: ignore[arg-type]


def test_the_line_never_outgrows_a_narrow_terminal(azure_env: Start) -> None:
    azure_env(faults=[Fault("POST", GRAPH, 429, headers={"Retry-After": "0.1"}, times=1)])
    screen = on_terminal(["scan", "--azure", "--format", "json", "--timeout", "5"], columns=40)
    drawn = screen.drawn()
    assert len(drawn) > 3
    # One cell is left free: a line that filled the last column could wrap on some terminals.
    assert all(fits(line, 39) for line in drawn), drawn
    assert any(line.endswith("…") for line in drawn)


def test_no_progress_and_quiet_draw_nothing(azure_env: Start) -> None:
    # Without either, "signing in" is drawn at once (test above).
    azure_env()
    for flag in ("--no-progress", "--quiet"):
        screen = on_terminal(["scan", "--azure", "--format", "json", "--timeout", "5", flag])
        assert screen.code in (0, 1), screen.text[-2000:]
        assert ERASE_BYTES not in screen.raw
        assert b"signing in" not in screen.raw


def test_no_progress_into_a_pipe(cli: Cli, azure_env: Start) -> None:
    azure_env(faults=[Fault("POST", GRAPH, 429, headers={"Retry-After": "0.1"}, times=1)])
    result = cli("scan", "--azure", "--format", "json", "--timeout", "5")
    assert result.code in (0, 1)
    assert "\x1b" not in result.err and "\r" not in result.err
    assert "signing in" not in result.err and "throttled" not in result.err


def test_a_failed_sign_in_erases_the_line_before_its_message(azure_env: Start) -> None:
    azure_env()
    screen = on_terminal(["scan", "--azure", "--timeout", "5"],
                         env={**_environ(), "POLICYENGINE_ACCESS_TOKEN": "not-the-token"})
    assert screen.code == 3
    assert screen.drawn()[0] == "signing in"
    assert screen.before("policyengine: cannot sign in").endswith("\r\x1b[K")
    # Nothing is drawn after the message, although the scan's threads end after it.
    assert screen.text.rstrip("\r\n").endswith("--auth")


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
