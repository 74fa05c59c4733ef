"""Azure Resource Graph through the real ``azure-mgmt-resourcegraph`` client.

* Subscriptions go in batches of at most 250 per request (ARG takes fewer than 300), or one
  management group per request.
* Every ``$skipToken`` page is followed; ``resultTruncated`` is detected and reported.
* What the pages said is checked against what came (:class:`Paging`): rows fewer than
  ``totalRecords``, ``data`` that is not rows, a ``$skipToken`` given twice (paging stops: it
  would never end) and more than :data:`MAX_PAGES` pages each leave a reason, which the scan
  turns into a gap of its scope (docs/architecture.md, "Scan status and missing data").
* Throttling is per user: every answer carries ``x-ms-user-quota-remaining`` and
  ``x-ms-user-quota-resets-after`` (``hh:mm:ss``). azure-core does not retry a throttled POST
  without ``Retry-After``, so this client does it: on 429 it waits for ``Retry-After`` or the
  quota reset (plus jitter), a bounded number of times; when the quota reaches 0 it waits for
  the reset before the next request instead of being throttled
  (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests).
* A request that times out is tried again, :data:`READ_RETRIES` times after a short backoff:
  azure-core's ``RetryPolicy`` retries a read error only for the methods of its allow-list,
  which has no POST (``retry_on_methods``; azure-core 1.41, ``_is_method_retryable``; see
  https://learn.microsoft.com/python/api/azure-core/azure.core.pipeline.policies.retrypolicy),
  and the client runs with ``retry_total=0`` anyway, so these are the only retries. A Resource
  Graph query only reads, so sending it again is safe.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

BATCH = 250
PAGE = 1000
#: Pages of one query over one scope at most: ten million rows at PAGE rows a page.
MAX_PAGES = 10_000
#: Tries after the first for a request that timed out (or whose answer broke off).
READ_RETRIES = 2
READ_BACKOFF = 0.5


@dataclass
class GraphStats:
    requests: int = 0
    pages: int = 0
    rows: int = 0
    throttled: int = 0
    timeouts: int = 0
    waited: float = 0.0
    quota_remaining: int | None = None


@dataclass
class Paging:
    """What the pages of one query over one scope said and gave. ``problems`` says why the
    rows that came may not be all of them; none when they are."""

    pages: int = 0
    received: int = 0
    #: The largest ``totalRecords`` a page announced (None: no page said).
    announced: int | None = None
    #: Whether a page said ``resultTruncated``.
    truncated: bool = False
    problems: list[str] = field(default_factory=list)

    def check_total(self) -> None:
        """A shortfall against ``totalRecords`` is a problem (more rows than announced is
        not: rows created while paging are still rows to judge)."""
        if self.announced is not None and self.received < self.announced:
            self.problems.append(f"Resource Graph announced totalRecords {self.announced} and "
                                 f"{self.received} arrived")


class GraphError(Exception):
    """A Resource Graph request failed for good (after retries); the message says why."""


def parse_reset(text: str | None) -> float | None:
    """``x-ms-user-quota-resets-after`` (``hh:mm:ss`` or ``hh:mm:ss.fff``) in seconds."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", text.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_retry_after(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        return None


class GraphClient:
    """Runs one query over a scope and yields its rows, page by page."""

    def __init__(self, credential: Any, endpoint: str, audience: str, *, verify: str | bool = True,
                 max_retries: int = 5, max_wait: float = 60.0, timeout: float = 60.0,
                 read_retries: int = READ_RETRIES, max_pages: int = MAX_PAGES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from azure.mgmt.resourcegraph import ResourceGraphClient

        # retry_total=0: the SDK would not retry a throttled POST anyway; this class does.
        self.client = ResourceGraphClient(credential, base_url=endpoint, credential_scopes=[audience],
                                          connection_verify=verify, retry_total=0,
                                          connection_timeout=timeout, read_timeout=timeout)
        self.max_retries = max_retries
        self.read_retries = read_retries
        self.max_pages = max_pages
        self.timeout = timeout
        self.max_wait = max_wait
        self.sleep = sleep
        self.stats = GraphStats()
        self._wait_before_next = 0.0
        #: Told of each wait before it starts (why, seconds): the progress line shows it.
        self.on_wait: Callable[[str, float | None], None] | None = None

    def rows(self, query: str, *, subscriptions: list[str] | None = None,
             management_group: str | None = None, paging: Paging | None = None) -> Iterator[Any]:
        """Every row of ``query`` over the scope, following ``$skipToken``. A row is what the
        answer held (normally an object; the caller checks). What went wrong with the pages
        goes to ``paging``, which is complete once the iterator is exhausted."""
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        paging = paging if paging is not None else Paging()
        given: dict[str, int] = {}  # each $skipToken, and the page that gave it
        skip_token: str | None = None
        while True:
            if paging.pages >= self.max_pages:
                paging.problems.append(f"paging stopped after {paging.pages} pages, the most read "
                                       "for one query")
                break
            request = QueryRequest(
                subscriptions=subscriptions,
                management_groups=[management_group] if management_group else None,
                query=query,
                options=QueryRequestOptions(skip_token=skip_token, top=PAGE, result_format="objectArray"),
            )
            response = self._send(request)
            paging.pages += 1
            self.stats.pages += 1
            total = getattr(response, "total_records", None)
            if isinstance(total, int):
                paging.announced = max(total, paging.announced or 0)
            if str(getattr(response, "result_truncated", "false")).lower() == "true":
                paging.truncated = True
            data = page_rows(response.data)
            if data is None:
                paging.problems.append(f"page {paging.pages} came with 'data' {_shape(response.data)}, "
                                       "not rows")
                data = []
            paging.received += len(data)
            self.stats.rows += len(data)
            yield from data
            skip_token = response.skip_token
            if not skip_token:
                break
            if skip_token in given:
                paging.problems.append(
                    f"page {paging.pages} gave the $skipToken page {given[skip_token]} gave; paging "
                    "stopped, as it would never end")
                break
            given[skip_token] = paging.pages
        paging.check_total()

    def _send(self, request: Any) -> Any:
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
            ServiceResponseTimeoutError,
        )

        attempt = reads = 0
        while True:
            if self._wait_before_next > 0:
                self._pause(self._wait_before_next, "quota used up")
                self._wait_before_next = 0.0
            self.stats.requests += 1
            try:
                answer: Any = self.client.resources(request, cls=_with_headers)
                response, headers = answer
            except ClientAuthenticationError:
                raise
            except HttpResponseError as exc:
                status = exc.status_code or 0
                failed: Any = exc.response
                headers = failed.headers if failed is not None else {}
                if (status == 429 or status >= 500) and attempt < self.max_retries:
                    attempt += 1
                    self.stats.throttled += status == 429
                    wait = _first(parse_retry_after(headers.get("Retry-After")),
                                  parse_reset(headers.get("x-ms-user-quota-resets-after")),
                                  min(2.0 ** attempt, self.max_wait))
                    self._pause(wait, "throttled" if status == 429 else f"Resource Graph answered {status}")
                    continue
                raise GraphError(f"Resource Graph answered {status}: {_reason(exc)}") from None
            except ServiceRequestError as exc:
                if attempt < self.max_retries:
                    attempt += 1
                    self._pause(min(2.0 ** attempt, self.max_wait), "Resource Graph not reached")
                    continue
                raise GraphError(f"Resource Graph could not be reached: {exc}") from None
            except ServiceResponseError as exc:  # sent, and then no (whole) answer in time
                timed_out = isinstance(exc, ServiceResponseTimeoutError)
                self.stats.timeouts += timed_out
                if reads < self.read_retries:
                    reads += 1
                    self._pause(READ_BACKOFF * 2 ** (reads - 1), "Resource Graph did not answer")
                    continue
                what = (f"did not answer within {self.timeout:g} s" if timed_out
                        else f"broke off its answer ({_reason(exc)})")
                raise GraphError(f"Resource Graph {what}, {reads + 1} tries") from None
            except (ValueError, KeyError) as exc:  # an answer that is not the JSON it should be
                raise GraphError(f"Resource Graph answered something unreadable: {exc}") from None
            except AzureError as exc:  # any other failure of this request: this batch only
                raise GraphError(f"Resource Graph request failed: {_reason(exc)}") from None
            self._note_quota(headers)
            return response

    def _note_quota(self, headers: Any) -> None:
        remaining = headers.get("x-ms-user-quota-remaining")
        if remaining is not None and str(remaining).isdigit():
            self.stats.quota_remaining = int(remaining)
            if int(remaining) == 0:
                self._wait_before_next = parse_reset(headers.get("x-ms-user-quota-resets-after")) or 1.0

    def _pause(self, seconds: float, reason: str) -> None:
        # Jitter spreads the retries of concurrent scans (up to 10 % more).
        wait = min(seconds, self.max_wait) * (1 + random.random() / 10)
        self.stats.waited += wait
        if self.on_wait is not None:
            self.on_wait(reason, wait)
        self.sleep(wait)


def page_rows(data: Any) -> list[Any] | None:
    """The rows of a page's ``data``: a list (``objectArray``), or a table (``columns`` and
    ``rows``) made into objects; None for anything else. A table row that does not fit the
    columns stays a list, which the caller counts as an unusable row."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return None
    columns, rows = data.get("columns"), data.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        return None
    names = [c.get("name") if isinstance(c, dict) else None for c in columns]
    if not all(isinstance(n, str) for n in names):
        return None
    return [dict(zip(names, row, strict=True)) if isinstance(row, list) and len(row) == len(names) else row
            for row in rows]


def _shape(data: Any) -> str:
    """What a page's ``data`` was, in JSON's words, for the reason."""
    if data is None:
        return "null"
    if isinstance(data, dict):
        return "{}" if not data else f"an object with keys {', '.join(sorted(map(str, data))[:5])}"
    if isinstance(data, bool):
        return "a boolean"
    return "a number" if isinstance(data, (int, float)) else "a string"


def _first(*waits: float | None) -> float:
    """The first wait that the answer gave (0 is a wait too), else the last (backoff)."""
    return next(w for w in waits if w is not None)


def _with_headers(pipeline: Any, deserialized: Any, _headers: Any) -> tuple[Any, Any]:
    """The answer and its HTTP headers (quota), through the SDK's ``cls`` hook."""
    return deserialized, pipeline.http_response.headers


def _reason(exc: Any) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message.splitlines()[0] if message else "no detail"
