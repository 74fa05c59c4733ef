"""How the HTML report lays out in real headless Chromium, on the bundled example and on a
bigger estate (a few hundred findings, so that heights mean something): at 1400, 1024 and
800 px and in print, no horizontal scrolling and every finding's message at least
:data:`READABLE` px wide; the findings a table on a wide screen and cards below 1000 px; the
800 px page at most 2.5 times as tall as the 1400 px one; a printout that lists every
finding the filters select, with no controls and nothing sticky, in a sensible number of
pages.

Before this layout (measured on the example): the message was 115 px wide at 1024 px and
0 px at 800 px, rows up to 8,567 px tall, the 800 px page 137,094 px (10x the 1400 px page)
and its PDF 123 pages.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from policyengine.findings import Verdict
from policyengine.pipeline import example_path
from tests.reports.test_html import WAIVERS, Rendered, chromium, example_findings, render, scan_to

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WIDTHS = (1400, 1024, 800)
#: The narrowest a finding's message may be, in CSS px (about 35 characters).
READABLE = 250
#: Copies of the example's resource groups in the bigger estate: about 110 findings to attend to
#: each (with the posture rules), so four stay within the 500 rows the screen draws at first.
COPIES = 4


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return scan_to(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The example with its waivers (a table of eight columns) and a framework's controls."""
    return scan_to(tmp_path_factory.mktemp("governed"), "--waivers", str(WAIVERS), "--framework", "mcsb")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The example estate with every resource group's rows copied :data:`COPIES` times under
    new group names (its subscriptions and their Defender plans once)."""
    folder = tmp_path_factory.mktemp("big")
    data = json.loads(Path(example_path()).read_text(encoding="utf-8"))["data"]
    grouped = [r for r in data if "/resourcegroups/" in r["id"].lower()]
    rows = [r for r in data if r not in grouped]
    for copy in range(COPIES):
        # Any case: RG-Analytics-Prod's server names a subnet in rg-network, so a copy that kept
        # its group would be the same server with other values, an input error.
        text = re.sub("/resourceGroups/rg-", f"/resourceGroups/rg-c{copy:02}-", json.dumps(grouped),
                      flags=re.IGNORECASE)
        rows += json.loads(text)
    export = folder / "estate.json"
    export.write_text(json.dumps({"count": len(rows), "data": rows}), encoding="utf-8")
    return scan_to(folder, str(export))


def open_at(browser: Browser, path: Path, width: int, *, printed: bool = False) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(path.as_uri())
    if printed:
        page.emulate_media(media="print")
    return page


@pytest.fixture(scope="module")
def measured(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[str, int, bool], dict[str, Any]]]:
    """The :func:`layout` of a report at a width, on screen or in print, measured once; each
    report is loaded once and its window resized."""
    seen: dict[tuple[str, int, bool], dict[str, Any]] = {}
    pages: dict[str, Page] = {}

    def measure(name: str, width: int, printed: bool = False) -> dict[str, Any]:
        key = (name, width, printed)
        if key not in seen:
            if name not in pages:
                rendered: Rendered = request.getfixturevalue(name)
                pages[name] = open_at(browser, rendered.path, width)
            page = pages[name]
            page.set_viewport_size({"width": width, "height": 900})
            page.emulate_media(media="print" if printed else "screen")
            seen[key] = layout(page)
        return seen[key]

    yield measure
    for page in pages.values():
        page.close()


def layout(page: Page) -> dict[str, Any]:
    """The page's widths and height, how its findings are laid out, and each message's width."""
    result: dict[str, Any] = page.evaluate("""() => {
      const root = document.documentElement;
      const row = document.querySelector("#findings-body > tr");
      return {
        scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, height: root.scrollHeight,
        rows: document.querySelectorAll("#findings-body > tr").length,
        row: row ? getComputedStyle(row).display : null,
        head: getComputedStyle(document.querySelector("#findings-table thead")).display,
        messages: [...document.querySelectorAll("#findings-body .message")].map(
          (m) => m.getBoundingClientRect().width),
      };
    }""")
    return result


@pytest.mark.parametrize("printed", [False, True], ids=["screen", "print"])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["example", "governed", "big"])
def test_no_sideways_scrolling_and_a_readable_message(name: str, width: int, printed: bool,
                                                      measured: Callable[[str, int, bool], dict[str, Any]],
                                                      request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    shown = measured(name, width, printed)
    assert shown["scrollWidth"] <= shown["clientWidth"] == width
    assert shown["rows"] == len(shown["messages"]) == rendered.attention() > 0
    assert min(shown["messages"]) >= READABLE, shown["messages"]
    if width >= 1000:
        assert (shown["row"], shown["head"]) == ("table-row", "table-header-group")
    else:  # a card each, its parts in a grid; no column headings
        assert (shown["row"], shown["head"]) == ("grid", "none")


def test_a_phone_does_not_scroll_sideways_either(example: Rendered, browser: Browser) -> None:
    page = open_at(browser, example.path, 375)
    shown = layout(page)
    page.close()
    assert shown["scrollWidth"] <= shown["clientWidth"]
    assert min(shown["messages"]) >= READABLE


@pytest.mark.parametrize("name", ["example", "big"])
def test_the_narrow_page_is_not_much_taller(name: str, measured: Callable[[str, int, bool], dict[str, Any]]) -> None:
    heights = {width: measured(name, width, False)["height"] for width in WIDTHS}
    assert heights[800] <= 2.5 * heights[1400], heights
    assert heights[1024] <= 2.5 * heights[1400], heights


def test_print_shows_every_matching_finding_and_no_controls(browser: Browser, tmp_path: Path) -> None:
    """The screen draws rows 500 at a time; a printout has no button to draw more."""
    failing = next(f for f in example_findings()[1] if f.verdict is Verdict.FAIL)
    many = [dataclasses.replace(failing, resource_id=f"{failing.resource_id}-{i:04}") for i in range(620)]
    path = tmp_path / "many.html"
    path.write_text(render(many), encoding="utf-8")
    all_drawn = "() => document.querySelectorAll('#findings-body > tr').length === 620"
    page = open_at(browser, path, 1024)
    assert layout(page)["rows"] == 500
    assert page.locator("#findings-table th").first.evaluate("e => getComputedStyle(e).position") == "sticky"
    page.emulate_media(media="print")  # print media without a print dialog: no beforeprint event
    page.wait_for_function(all_drawn, timeout=5000)  # the media query's change comes with a frame
    assert page.inner_text("#findings-shown").startswith("Showing 620 of 620 matching findings")
    for hidden in ("#filters", "#findings-more", "nav", "#findings-body details"):
        assert page.locator(hidden).first.evaluate("e => getComputedStyle(e).display") == "none", hidden
    assert page.locator("#findings-table th").first.evaluate("e => getComputedStyle(e).position") == "static"
    page.close()
    page = open_at(browser, path, 1024)
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")  # a print dialog, or page.pdf()
    assert page.evaluate(all_drawn)
    page.close()


def pdf_pages(browser: Browser, path: Path) -> int:
    page = open_at(browser, path, 1024)
    pdf = page.pdf(format="A4")
    page.close()
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_the_pdf_takes_a_sensible_number_of_pages(example: Rendered, big: Rendered, browser: Browser) -> None:
    """About a page for the header and summary, one per three or four findings, one per rule
    with failures (its remediation in full); before: 123 pages for the example, 1,301 for
    the bigger estate."""
    assert pdf_pages(browser, example.path) <= 25 + example.attention() // 3
    assert pdf_pages(browser, big.path) <= 25 + big.attention() // 3
