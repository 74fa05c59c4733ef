"""Azure Resource Graph through the real ``azure-mgmt-resourcegraph`` client.

* Subscriptions go in batches of at most 250 per request (ARG takes fewer than 300), or one
  management group per request.
* Every ``$skipToken`` page is followed; ``resultTruncated`` is detected and reported.
* Throttling is per user: every answer carries ``x-ms-user-quota-remaining`` and
  ``x-ms-user-quota-resets-after`` (``hh:mm:ss``). azure-core does not retry a throttled POST
  without ``Retry-After``, so this client does it: on 429 it waits for ``Retry-After`` or the
  quota reset (plus jitter), a bounded number of times; when the quota reaches 0 it waits for
  the reset before the next request instead of being throttled
  (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests).
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


@dataclass
class GraphStats:
    requests: int = 0
    pages: int = 0
    rows: int = 0
    throttled: int = 0
    waited: float = 0.0
    quota_remaining: int | None = None
    truncated: list[str] = field(default_factory=list)


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
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from azure.mgmt.resourcegraph import ResourceGraphClient

        # retry_total=0: the SDK would not retry a throttled POST anyway; this class does.
        self.client = ResourceGraphClient(credential, base_url=endpoint, credential_scopes=[audience],
                                          connection_verify=verify, retry_total=0,
                                          connection_timeout=timeout, read_timeout=timeout)
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.stats = GraphStats()
        self._wait_before_next = 0.0

    def rows(self, query: str, *, subscriptions: list[str] | None = None,
             management_group: str | None = None) -> Iterator[dict[str, Any]]:
        """Every row of ``query`` over the scope, following ``$skipToken``."""
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        skip_token: str | None = None
        while True:
            request = QueryRequest(
                subscriptions=subscriptions,
                management_groups=[management_group] if management_group else None,
                query=query,
                options=QueryRequestOptions(skip_token=skip_token, top=PAGE, result_format="objectArray"),
            )
            response = self._send(request)
            self.stats.pages += 1
            if str(getattr(response, "result_truncated", "false")).lower() == "true":
                self.stats.truncated.append(query.split("\n", 1)[0])
            data = response.data or []
            if not isinstance(data, list):
                raise GraphError("Resource Graph answered rows in an unexpected shape")
            self.stats.rows += len(data)
            yield from data
            skip_token = response.skip_token
            if not skip_token:
                return

    def _send(self, request: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

        attempt = 0
        while True:
            if self._wait_before_next > 0:
                self._pause(self._wait_before_next)
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
                    self._pause(wait)
                    continue
                raise GraphError(f"Resource Graph answered {status}: {_reason(exc)}") from None
            except ServiceRequestError as exc:
                if attempt < self.max_retries:
                    attempt += 1
                    self._pause(min(2.0 ** attempt, self.max_wait))
                    continue
                raise GraphError(f"Resource Graph could not be reached: {exc}") from None
            except (ValueError, KeyError) as exc:  # an answer that is not the JSON it should be
                raise GraphError(f"Resource Graph answered something unreadable: {exc}") from None
            self._note_quota(headers)
            return response

    def _note_quota(self, headers: Any) -> None:
        remaining = headers.get("x-ms-user-quota-remaining")
        if remaining is not None and str(remaining).isdigit():
            self.stats.quota_remaining = int(remaining)
            if int(remaining) == 0:
                self._wait_before_next = parse_reset(headers.get("x-ms-user-quota-resets-after")) or 1.0

    def _pause(self, seconds: float) -> None:
        # Jitter spreads the retries of concurrent scans (up to 10 % more).
        wait = min(seconds, self.max_wait) * (1 + random.random() / 10)
        self.stats.waited += wait
        self.sleep(wait)


def _first(*waits: float | None) -> float:
    """The first wait that the answer gave (0 is a wait too), else the last (backoff)."""
    return next(w for w in waits if w is not None)


def _with_headers(pipeline: Any, deserialized: Any, _headers: Any) -> tuple[Any, Any]:
    """The answer and its HTTP headers (quota), through the SDK's ``cls`` hook."""
    return deserialized, pipeline.http_response.headers


def _reason(exc: Any) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message.splitlines()[0] if message else "no detail"
