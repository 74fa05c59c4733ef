"""A fake Azure on loopback: Resource Graph and ARM over HTTPS on 127.0.0.1, for the real
Azure SDK clients to talk to. Test code, never a product path.

It serves an estate (ARG-shaped rows, as ``examples/estate.json``) the way Azure does:

* ``POST /providers/Microsoft.ResourceGraph/resources`` runs the query with the KQL test
  oracle (``tests.kqloracle``) over tables built as Azure builds them: servers in
  ``resources``, pricings in ``securityresources``, one ``resourcecontainers`` row per
  subscription. Server parameters, ATP settings and alert policies are in no table.
  Answers are paged with ``$skipToken`` (``page_size`` rows at most) and carry the user quota
  headers.
* ``GET /subscriptions``, ``GET {server}/configurations`` (paged with ``nextLink``),
  ``GET {server}/advancedThreatProtectionSettings/Default``,
  ``GET {server}/securityAlertPolicies/Default`` serve what ARG cannot see, and
  ``GET /subscriptions/{id}/providers/Microsoft.Security/pricings/{name}`` what it may not show.

Faults are injected by :class:`Fault` rules (status, headers, body, delay, how many times),
matched on method and path (and the request body, for one query among the others), so a test
can throttle, break or slow any request. ``rewrite`` changes a Resource Graph answer after it is
made (a short page, ``data: null``, rows without ids, a repeating ``$skipToken``), so a test
can send what a real service sends on a bad day.

It is a sign-in authority too (for ``AZURE_AUTHORITY_HOST``): ``GET /{tenant}/v2.0/.well-known/
openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``, which grants the token for the
client secret ``client_secret`` and refuses any other as Microsoft Entra ID does (401
``invalid_client``, AADSTS7000215, the description on several lines).
"""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import trustme

TOKEN = "loopback-test-token"


@dataclass
class Fault:
    """Answer matching requests with ``status`` (and ``headers``/``body``) ``times`` times
    (None: always), after ``delay`` seconds."""

    method: str
    path: str  # a regular expression searched in the path, case-insensitively
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    times: int | None = None
    delay: float = 0.0
    #: A regular expression the request body must contain (case-insensitively), if given:
    #: e.g. the resource type of one Resource Graph query.
    in_body: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str, body: str = "") -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.in_body is not None and re.search(self.in_body, body, re.IGNORECASE) is None:
            return False
        return method == self.method and re.search(self.path, path, re.IGNORECASE) is not None


#: Changes a Resource Graph answer: given the request body and the answer made, returns the
#: answer to send.
Rewrite = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


#: The child collections ARM lists (paged with ``nextLink``), and the subscription-scope types ARM
#: serves (pricings by id, security contacts listed).
LISTED = frozenset({"configurations", "firewallrules"})
SUBSCRIPTION_SCOPE = frozenset({"microsoft.security/pricings", "microsoft.security/securitycontacts"})


@dataclass
class Estate:
    """The estate the fake serves, indexed as Azure would hold it."""

    tables: dict[str, list[dict[str, Any]]]
    children: dict[str, list[dict[str, Any]]]  # lower-case parent id -> child resources
    subscriptions: list[dict[str, Any]]
    tenant_id: str = "72f988bf-0000-0000-0000-000000000000"
    #: Subscription-scope resources ARM serves by id (lower-case), the Defender pricings: a test
    #: may hide one from Resource Graph (``securityresources``) and leave it here.
    arm_resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> Estate:
        """Tables as ARG holds them (``tests.kqloracle.arg``), with the ``resourcecontainers``
        row every subscription has in Azure even where the export lacks it; children by parent."""
        from tests.kqloracle.arg import arg_row, arg_tables

        rows = list(rows)
        tables = arg_tables(rows)
        children: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if str(row.get("type", "")).count("/") >= 2:
                children.setdefault(row["id"].rsplit("/", 2)[0].lower(), []).append(row)
        known = {str(r.get("subscriptionId", "")).lower() for r in tables["resourcecontainers"]}
        seen = dict.fromkeys(row["id"].split("/")[2] for row in rows)
        for sid in seen:
            if sid.lower() not in known:
                tables["resourcecontainers"].append(arg_row({
                    "id": f"/subscriptions/{sid}", "name": sid, "type": "microsoft.resources/subscriptions",
                    "subscriptionId": sid, "tenantId": cls.tenant_id, "properties": {"state": "Enabled"}}))
        subscriptions = [{"id": f"/subscriptions/{sid}", "subscriptionId": sid, "displayName": sid,
                          "state": "Enabled", "tenantId": cls.tenant_id} for sid in seen]
        arm_resources = {row["id"].lower(): row for row in rows
                         if str(row.get("type", "")).lower() in SUBSCRIPTION_SCOPE}
        return cls(tables, children, subscriptions, arm_resources=arm_resources)

    def hide_from_graph(self, subscription: str) -> None:
        """Resource Graph leaves out this subscription's pricings (ARM still has them), as it
        does for rows the identity may not read."""
        prefix = f"/subscriptions/{subscription}/".lower()
        self.tables["securityresources"] = [r for r in self.tables["securityresources"]
                                            if not str(r.get("id", "")).lower().startswith(prefix)]


class FakeAzure:
    """Start with ``with FakeAzure(estate) as azure:``; ``azure.endpoint`` and
    ``azure.ca_bundle`` are what the clients need. ``azure.requests`` logs every request."""

    def __init__(self, estate: Estate, *, page_size: int = 1000, quota: int = 15,
                 faults: list[Fault] | None = None, delay: float = 0.0, graph_delay: float = 0.0,
                 rewrite: Rewrite | None = None, client_secret: str | None = None) -> None:
        self.estate = estate
        self.client_secret = client_secret
        self.rewrite = rewrite
        self.page_size = page_size
        self.quota = quota
        self.faults = faults or []
        self.delay = delay  # per ARM request
        self.graph_delay = graph_delay  # per Resource Graph request
        self._results: dict[tuple[str, frozenset[str]], list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.management_groups: dict[str, list[str]] = {}
        ca = trustme.CA()
        self._dir = tempfile.TemporaryDirectory()
        self.ca_bundle = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        self._cert = ca.issue_cert("127.0.0.1", "localhost")
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeAzure:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._dir.cleanup()

    def count(self, method: str, pattern: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and re.search(pattern, p, re.I))

    # -- answers -----------------------------------------------------------------------------
    def fault_for(self, method: str, path: str, body: str = "") -> Fault | None:
        with self.lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.matches(method, path, body):
                    fault.hits += 1
                    return fault
        return None

    def graph(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        from tests.kqloracle import execute

        scope = {s.lower() for s in body.get("subscriptions") or []}
        for group in body.get("managementGroups") or []:
            scope |= {s.lower() for s in self.management_groups.get(group, [])}
        options = body.get("options") or {}
        offset = int(options.get("$skipToken") or 0)
        top = min(int(options.get("$top") or 1000), self.page_size)
        key = (body["query"], frozenset(scope))
        rows = self._results.get(key) if offset else None
        if rows is None:  # run once per query and scope; later pages slice the same answer
            tables = {name: [r for r in held if str(r.get("subscriptionId", "")).lower() in scope]
                      for name, held in self.estate.tables.items()}
            rows = self._results[key] = execute(body["query"], tables)
        page = rows[offset:offset + top]
        answer: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "data": page,
                                  "facets": [], "resultTruncated": "false"}
        if offset + top < len(rows):
            answer["$skipToken"] = str(offset + top)
        with self.lock:
            self.quota = max(self.quota - 1, 0)
            remaining = self.quota
        headers = {"x-ms-user-quota-remaining": str(remaining),
                   "x-ms-user-quota-resets-after": "00:00:00.2"}
        if self.rewrite is not None:
            answer = self.rewrite(body, answer)
        return 200, answer, headers

    def authority(self, method: str, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]] | None:
        """The answer of the sign-in authority, or None if ``path`` is not one of its own."""
        match = re.fullmatch(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)", path)
        if match is None:
            return None
        tenant, what = match.groups()
        base = f"{self.endpoint}/{tenant}"
        if what.startswith("v2.0") and method == "GET":
            return 200, {"token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
                         "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                         "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode"}
        if what.startswith("oauth2") and method == "POST":
            secret = (form.get("client_secret") or [""])[0]
            if self.client_secret is not None and secret == self.client_secret:
                return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}
            return 401, {"error": "invalid_client", "error_codes": [7000215],
                         "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the "
                         "secret being sent in the request is the client secret value, not the client "
                         "secret ID, for a secret added to app '00000000-0000-0000-0000-00000000c1d0'.\r\n"
                         "Trace ID: 0e1f2a3b-0000-0000-0000-000000000000\r\nCorrelation ID: "
                         "5d6c7b8a-0000-0000-0000-000000000000\r\nTimestamp: 2025-01-01 00:00:00Z"}
        return 405, _error("MethodNotAllowed", method)

    def arm(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        lowered = path.lower().rstrip("/")
        if lowered == "/subscriptions":
            return 200, {"value": self.estate.subscriptions}
        if lowered.endswith("/providers/microsoft.security/securitycontacts"):  # subscription scope
            prefix = lowered + "/"
            return 200, {"value": [r for rid, r in self.estate.arm_resources.items() if rid.startswith(prefix)]}
        collection = lowered.rsplit("/", 1)[-1]
        if collection in LISTED:
            parent = lowered.rsplit("/", 1)[0]
            if not self._exists(parent):
                return 404, _error("ResourceNotFound", f"{path} was not found")
            items = [c for c in self.estate.children.get(parent, []) if f"/{collection}/" in c["id"].lower()]
            start = int((query.get("$skipToken") or ["0"])[0])
            page = items[start:start + self.page_size]
            body: dict[str, Any] = {"value": page}
            if start + self.page_size < len(items):
                body["nextLink"] = (f"{self.endpoint}{path}?api-version={query['api-version'][0]}"
                                    f"&$skipToken={start + self.page_size}")
            return 200, body
        if "/providers/microsoft.security/pricings/" in lowered:  # subscription scope: by id
            held = self.estate.arm_resources.get(lowered)
            if held is None:
                return 404, _error("ResourceNotFound", f"{path} was not found")
            return 200, held
        parent, _, child = lowered.rsplit("/", 2)
        for item in self.estate.children.get(parent, []):
            if item["id"].lower().rstrip("/") == lowered:
                return 200, item
        return 404, _error("ResourceNotFound", f"{child} of {parent} was not found")

    def _exists(self, rid: str) -> bool:
        return any(r["id"].lower() == rid for r in self.estate.tables["resources"])


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and went away (the slow-answer tests) is no error of the
        fake's; anything else is printed as usual."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _handler(fake: FakeAzure) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            is_graph = url.path.lower().endswith("/providers/microsoft.resourcegraph/resources")
            pause = fake.graph_delay if is_graph else fake.delay
            if pause:
                time.sleep(pause)
            signing_in = fake.authority(method, url.path, parse_qs(raw.decode("utf-8", "replace")))
            if signing_in is not None:
                self._send(*signing_in)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, _error("InvalidAuthenticationToken", "The access token is invalid."))
                return
            fault = fake.fault_for(method, url.path, raw.decode("utf-8", "replace"))
            if fault is not None:
                time.sleep(fault.delay)
                body = fault.body if fault.body is not None else _error("Fault", f"injected {fault.status}")
                self._send(fault.status, body, fault.headers)
                return
            if method == "POST" and is_graph:
                status, answer, headers = fake.graph(json.loads(raw))
                self._send(status, answer, headers)
                return
            if method == "GET":
                status, answer = fake.arm(url.path, parse_qs(url.query))
                self._send(status, answer)
                return
            self._send(405, _error("MethodNotAllowed", method))

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler
