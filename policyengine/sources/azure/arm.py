"""ARM reads for what Resource Graph cannot see, through azure-core's ARM pipeline with the
same credential: server parameter lists, ATP settings, alert policies, the subscription list.

azure-core's RetryPolicy retries a GET on 408/429/5xx, honouring ``Retry-After``, a bounded
number of times; it also retries a GET that timed out or broke off, up to ``retry_read`` times
(GET is on its ``retry_on_methods`` allow-list;
https://learn.microsoft.com/python/api/azure-core/azure.core.pipeline.policies.retrypolicy), so
this module adds no retry loop of its own: it only bounds those counts. ``nextLink`` pages are
followed, at most :data:`MAX_PAGES` and never the same link twice. A read that still fails
raises :class:`ArmError` with a reason a person can act on ("403 Forbidden: ...", "did not
answer within 60 s (tried up to 3 times)"), which the scan turns into an ``unknown`` verdict for that
resource — never a dropped resource.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policyengine import __version__

MAX_PAGES = 1000
#: Tries after the first for a GET that timed out, or could not connect (azure-core's own).
READ_RETRIES = 2


class ArmError(Exception):
    """An ARM read that failed for good; ``str()`` is the reason shown in findings."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class ArmAuthError(ArmError):
    """ARM refused the credential itself (401): the whole scan stops."""


@dataclass
class ArmStats:
    requests: int = 0
    failures: int = 0
    timeouts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self) -> None:
        with self.lock:
            self.requests += 1


#: Answers azure-core's RetryPolicy waits on and tries again (its ``retry_on_status_codes``).
RETRIED = frozenset({408, 429, 500, 502, 503, 504})


def _counting_policy(client: ArmClient) -> Any:
    """Counts each try (it sits inside the retries), and tells ``client.on_wait`` of an
    answer that the retry policy will wait on: throttling, or a server error."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class Count(SansIOHTTPPolicy):  # type: ignore[type-arg]
        def on_request(self, request: Any) -> None:
            client.stats.count()

        def on_response(self, request: Any, response: Any) -> None:
            status = response.http_response.status_code
            if status in RETRIED and client.on_wait is not None:
                reason = "throttled" if status == 429 else f"ARM answered {status}"
                client.on_wait(reason, retry_after(response.http_response.headers))

    return Count()


def retry_after(headers: Any) -> float | None:
    """The seconds an answer asks to wait (``Retry-After`` in seconds, or the ``-ms`` forms
    ARM also sends); None if it does not say (an HTTP date is left to the SDK)."""
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0), ("Retry-After", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            continue
    return None


class ArmClient:
    def __init__(self, credential: Any, endpoint: str, audience: str, *, verify: str | bool = True,
                 max_retries: int = 4, backoff: float = 0.8, timeout: float = 60.0) -> None:
        from azure.core.pipeline import policies
        from azure.core.pipeline.transport import RequestsTransport
        from azure.mgmt.core import ARMPipelineClient

        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.stats = ArmStats()
        #: Told of each wait the retries will make (why, seconds or None): the progress line.
        self.on_wait: Callable[[str, float | None], None] | None = None
        self.client: Any = ARMPipelineClient(
            base_url=self.endpoint,
            policies=[
                policies.HeadersPolicy({"User-Agent": f"policyengine/{__version__}"}),
                policies.RetryPolicy(retry_total=max_retries, retry_read=READ_RETRIES,
                                     retry_connect=READ_RETRIES, retry_backoff_factor=backoff,
                                     retry_backoff_max=30),
                _counting_policy(self),
                policies.BearerTokenCredentialPolicy(credential, audience),
            ],
            transport=RequestsTransport(connection_verify=verify, read_timeout=timeout,
                                        connection_timeout=timeout),
        )

    def get(self, path_or_url: str) -> dict[str, Any]:
        """One GET; the JSON body as a dict."""
        from azure.core.exceptions import AzureError, ClientAuthenticationError, ServiceResponseTimeoutError
        from azure.core.rest import HttpRequest

        url = self._absolute(path_or_url)
        try:
            response = self.client.send_request(HttpRequest("GET", url))
        except ClientAuthenticationError:
            raise
        except ServiceResponseTimeoutError:
            self._failed(timeout=True)
            raise ArmError(f"ARM did not answer within {self.timeout:g} s (tried up to "
                           f"{READ_RETRIES + 1} times)") from None
        except AzureError as exc:
            self._failed()
            raise ArmError(f"ARM could not be reached: {type(exc).__name__}: {exc}") from None
        if response.status_code == 401:
            raise ArmAuthError(_status_reason(response), 401)
        if response.status_code != 200:
            self._failed()
            raise ArmError(_status_reason(response), response.status_code)
        try:
            body = json.loads(response.text())
        except ValueError:
            self._failed()
            raise ArmError("ARM answered malformed JSON") from None
        if not isinstance(body, dict):
            self._failed()
            raise ArmError("ARM answered JSON that is not an object")
        return body

    def list(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list, following ``nextLink``."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        followed = {self._absolute(path)}
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            body = self.get(url)
            value = body.get("value")
            if not isinstance(value, list):
                self._failed()
                raise ArmError("ARM answered a list without 'value'")
            items += [v for v in value if isinstance(v, dict)]
            link = body.get("nextLink")
            url = link if isinstance(link, str) and link else None
            if url is not None:
                if self._absolute(url) in followed:  # a loop: following it would never end
                    self._failed()
                    raise ArmError("ARM's nextLink led back to a page already read")
                followed.add(self._absolute(url))
        raise ArmError(f"more than {MAX_PAGES} pages of nextLink")

    def _absolute(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith("https://") else self.endpoint + path_or_url

    def _failed(self, *, timeout: bool = False) -> None:
        with self.stats.lock:
            self.stats.failures += 1
            self.stats.timeouts += timeout


def _status_reason(response: Any) -> str:
    reason = getattr(response, "reason", "") or ""
    detail = ""
    try:
        body = json.loads(response.text())
        error = body.get("error", {}) if isinstance(body, dict) else {}
        detail = error.get("message") or error.get("code") or ""
    except (ValueError, AttributeError):
        pass
    text = f"ARM answered {response.status_code} {reason}".rstrip()
    return f"{text}: {detail}" if detail else text
