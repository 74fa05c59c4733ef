"""A live scan: the query plan run against Azure, as a stream of rows in parent-first order.

Subscription-level rows (subscriptions, the pricings joined in by the queries) come before
the resources of their subscription, and each resource is followed by the children read from
ARM, so the same assembler that streams a snapshot streams a live scan, and
``policyengine collect`` writes exactly these rows to replay the scan offline.

Faults never drop a resource: a child that ARM would not give (403, 404, timeout, malformed
answer, no id) is recorded on its resource as unread, with the reason, and the rules that need
it say ``unknown``. Whatever keeps a Resource Graph query over a batch from giving all its rows
— a failed or timed-out request, pages short of ``totalRecords``, ``data`` that is not rows, a
repeating ``$skipToken``, rows without a usable id — becomes one :class:`Gap` for that type and
batch, saying why; the other types and batches are still read and judged, and the scan is
incomplete (docs/architecture.md, "Scan status and missing data").

Absence in Resource Graph proves nothing (it silently leaves out rows the identity may not
read): a subscription-scope resource a query joins in but did not get, the Defender plan, is
read from ARM once per subscription before the subscription's records are built. A read Azure
denies (403), of a child or of a plan, is listed in ``ScanStatus.denied`` with the role that
would allow it, and makes the scan incomplete; a 404 for what Azure always has is counted in
``ScanStatus.not_found`` (a plan then takes its platform default, with a note on the evidence).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from policyengine.catalog import catalog
from policyengine.ir import EVERY
from policyengine.kql.plan import ArmRead, Plan, Query, RelatedColumn
from policyengine.records.model import ANNOTATION
from policyengine.sources.azure.arm import ArmAuthError, ArmClient, ArmError
from policyengine.sources.azure.graph import BATCH, GraphClient, GraphError, Paging
from policyengine.sources.azure.progress import LiveProgress
from policyengine.status import Denied, Gap, ScanStatus

SUBSCRIPTIONS_API = "/subscriptions?api-version=2022-12-01"
WINDOW = 64

#: The built-in role that grants a read, by lower-case related type, for the report of a
#: denied read (Reader covers resources and their children; Defender's pricings need
#: Security Reader: https://learn.microsoft.com/azure/defender-for-cloud/permissions).
ROLES = {"microsoft.security/pricings": "Security Reader",
         "microsoft.security/securitycontacts": "Security Reader"}
#: Where no catalog entry says how to read a subscription-scope type from ARM: Microsoft.Security/
#: pricings, whose latest stable REST version is 2024-01-01 (azure-rest-api-specs,
#: specification/security/resource-manager/Microsoft.Security/stable/2024-01-01/pricings.json).
PRICINGS_PATH = "/subscriptions/{subscriptionId}/providers/Microsoft.Security/pricings/{name}"
PRICINGS_API = "2024-01-01"
#: What Azure holds for a subscription-scope resource it always has but answers 404 for: a
#: Defender plan never turned on is on the Free tier (docs/architecture.md, "Scan status and
#: missing data").
#: Without any security contact, "subscription owners receive email notifications for
#: high-severity alerts" (https://learn.microsoft.com/azure/defender-for-cloud/configure-email-notifications),
#: written in the 2023-12-01-preview shape.
PLATFORM_DEFAULTS: dict[str, dict[str, Any]] = {
    "microsoft.security/pricings": {"pricingTier": "Free"},
    "microsoft.security/securitycontacts": {
        "isEnabled": True, "notificationsByRole": {"state": "On", "roles": ["Owner"]},
        "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "High"}]},
}


def _unread(shell: dict[str, Any], ltype: str, why: str) -> dict[str, Any]:
    """A subscription-scope row that could not be read: the rules on it say ``unknown``."""
    return {**shell, ANNOTATION: {"unread": {ltype: why}}}


def _assumed(shell: dict[str, Any], default: dict[str, Any], note: str) -> dict[str, Any]:
    """A subscription-scope row made from the platform default, with the note for the evidence."""
    return {**shell, "properties": dict(default), ANNOTATION: {"assumed": note}}


def role_for(related_type: str) -> str:
    return ROLES.get(related_type.lower(), "Reader")


@dataclass(frozen=True)
class Scope:
    subscriptions: tuple[str, ...] = ()
    management_group: str | None = None

    def describe(self) -> str:
        if self.management_group:
            return f"management group {self.management_group}"
        if self.subscriptions:
            return f"{len(self.subscriptions)} subscription(s)"
        return "every subscription the identity can read"


def usable(row: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a row can be judged: an object whose ``id`` is an ARM id (under a subscription,
    which is where the assembler files it)."""
    rid = row.get("id") if isinstance(row, dict) else None
    return isinstance(rid, str) and rid[:15].lower() == "/subscriptions/" and len(rid) > 15


@dataclass
class _Batch:
    """One query over one batch of the scope, and what kept it from giving every row."""

    query: Query
    subscriptions: list[str] | None
    paging: Paging = field(default_factory=Paging)
    unusable: int = 0

    def problems(self, failure: str | None) -> list[str]:
        reasons = []
        if self.unusable:
            reasons.append(f"{self.unusable} row(s) without a usable id (an ARM id under /subscriptions/) "
                           "were left out")
        if failure is not None:
            got = self.paging.received
            reasons.append(failure + (f" after {got} row(s) on {self.paging.pages} page(s)" if got else ""))
        return reasons + self.paging.problems


def rebuild(query: Query, row: dict[str, Any]) -> dict[str, Any]:
    """The resource in ARM shape from the columns the query projected."""
    out: dict[str, Any] = {k: row[k] for k in ("id", "name", "type", "subscriptionId", "resourceGroup",
                                               "location") if row.get(k) is not None}
    for column, path in query.paths:
        value = row.get(column)
        if value is not None:
            _put(out, path, value)
    return out


def _put(node: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Set ``value`` at ``path``, making objects for names and lists for indices (padded
    with nulls, which read as absent)."""
    for seg, nxt in zip(path, (*path[1:], None), strict=True):
        last = nxt is None
        fresh: Any = value if last else ([] if isinstance(nxt, int) else {})
        if isinstance(seg, int):
            while len(node) <= seg:
                node.append(None)
            if last or node[seg] is None:
                node[seg] = fresh
            node = node[seg]
        else:
            if last or seg not in node:
                node[seg] = fresh
            node = node[seg]


def _related_key(rid: str) -> str:
    return rid.lower().rstrip("/")


def _needed(query: Query, read: ArmRead, plan: Plan, row: dict[str, Any]) -> bool:
    """Whether any rule that needs ``read`` may apply to this resource (its ``where``, computed
    in the query, is not known to exclude it)."""
    applies = dict(query.applies)
    for rule in plan.rules:
        needs_read = read.related_type in {a.related_type for a in rule.arm_reads}
        if rule.rule_id not in query.rules or not needs_read:
            continue
        column = applies.get(rule.rule_id)
        if column is None or row.get(column) == 2:
            return True
    return False


class LiveScan:
    def __init__(self, plan: Plan, graph: GraphClient, arm: ArmClient, scope: Scope, *,
                 concurrency: int = 8, progress: LiveProgress | None = None) -> None:
        self.plan = plan
        self.graph = graph
        self.arm = arm
        self.scope = scope
        self.concurrency = max(1, concurrency)
        self.progress = progress if progress is not None else LiveProgress()
        graph.on_wait = arm.on_wait = self.progress.wait
        self.status = ScanStatus("live")
        self._lock = threading.Lock()
        self._emitted: set[str] = set()
        #: Subscription-scope resources (lower-case id) given by Resource Graph or read from ARM.
        self._read_related: set[str] = set()

    # -- scope ------------------------------------------------------------------------------
    def batches(self) -> list[list[str] | None]:
        """The batches of subscriptions to query (one ``None`` for a management group); none,
        with a gap for every type, when the subscriptions cannot be listed."""
        if self.scope.management_group:
            self.progress.found(None, f"management group {self.scope.management_group}")
            return [None]
        try:
            subscriptions = list(self.scope.subscriptions) or self.list_subscriptions()
            self.progress.found(len(subscriptions))
        except ArmAuthError:
            raise
        except ArmError as exc:
            self._gap_everywhere(f"the subscriptions could not be listed: {exc}")
            return []
        if not subscriptions:
            self._gap_everywhere("the identity can read no enabled subscription")
            return []
        return [subscriptions[i:i + BATCH] for i in range(0, len(subscriptions), BATCH)]

    def _gap_everywhere(self, reason: str) -> None:
        self.status.not_evaluated += [Gap(q.resource_type, reason) for q in self.plan.queries]

    def list_subscriptions(self) -> list[str]:
        self.progress.planned(1)
        items = self.arm.list(SUBSCRIPTIONS_API)
        self.progress.done()
        ids = []
        for item in items:
            if self.status.tenant_id is None and isinstance(item.get("tenantId"), str):
                self.status.tenant_id = item["tenantId"]
            usable = item.get("state") not in ("Disabled", "Deleted")
            if isinstance(item.get("subscriptionId"), str) and usable:
                ids.append(item["subscriptionId"])
        return ids

    # -- rows -------------------------------------------------------------------------------
    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row of the scan, subscription-level rows first, each resource followed by
        its children."""
        self.progress.draw(now=True)  # signing in: the first request waits for a token
        batches = self.batches()
        # The subscriptions' own query first: their rows and pricings precede any resource.
        queries = sorted(self.plan.queries, key=lambda q: q.table != "resourcecontainers")
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for query in queries:
                for subscriptions in batches:
                    batch = _Batch(query, subscriptions)
                    failure = None
                    try:
                        yield from self._query(batch, pool)
                    except GraphError as exc:
                        failure = str(exc)
                    self._close(batch, failure)

    def _close(self, batch: _Batch, failure: str | None) -> None:
        """Record what kept this query over this batch from giving every row, if anything."""
        where = tuple(batch.subscriptions or ())
        group = self.scope.management_group
        resource_type = batch.query.resource_type
        if batch.paging.truncated:
            scope = f"management group {group}" if group else f"{len(where)} subscription(s)"
            self.status.truncated.append(f"{resource_type} in {scope}: Resource Graph truncated its "
                                         "answer (resultTruncated)")
        problems = batch.problems(failure)
        if problems:
            self.status.not_evaluated.append(Gap(resource_type, "; ".join(problems), where, group))

    def _query(self, batch: _Batch, pool: ThreadPoolExecutor) -> Iterator[dict[str, Any]]:
        query = batch.query
        rows = self.graph.rows(query.text, subscriptions=batch.subscriptions,
                               management_group=self.scope.management_group, paging=batch.paging)
        while True:
            window = list(itertools.islice(rows, WINDOW))
            if not window:
                return
            good: list[dict[str, Any]] = [r for r in window if usable(r)]
            batch.unusable += len(window) - len(good)
            if query.table != "resourcecontainers":  # subscriptions are counted as found
                self.progress.read(query.resource_type, len(good))
            # Which reads each resource needs, decided here so that the line can show how
            # many of the reads planned so far are done.
            reads = [[read for read in query.arm_reads if _needed(query, read, self.plan, r)] for r in good]
            self.progress.planned(sum(map(len, reads)))
            children = pool.map(self._children, good, reads)
            for row, (child_rows, unread, listed) in zip(good, children, strict=True):
                yield from self._subscription_rows(query, row)
                # A subscription-scope resource read from ARM precedes the resources of its
                # subscription, as the parent-first order wants; once per subscription.
                for child in child_rows:
                    if "/resourcegroups/" not in child["id"].lower():
                        yield from self._once(child)
                resource = rebuild(query, row)
                note: dict[str, Any] = {"unread": unread} if unread else {}
                if listed:  # none of these children in the snapshot means the resource has none
                    note["listed"] = listed
                if note:
                    resource[ANNOTATION] = note
                yield resource
                yield from (c for c in child_rows if "/resourcegroups/" in c["id"].lower())

    def _subscription_rows(self, query: Query, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The subscription-scope resources joined into ``row``; one Resource Graph did not
        return is read from ARM (once per subscription), since Resource Graph silently leaves
        out rows the identity may not read: absence alone proves nothing."""
        for related in query.related:
            if related.name == EVERY:
                yield from self._every_related(related, row)
                continue
            bag = row.get(related.column)
            if usable(bag):
                self._read_related.add(_related_key(bag["id"]))
                yield from self._once(bag)
                continue
            subscription = row.get("subscriptionId")
            if not isinstance(subscription, str) or not subscription:
                continue
            rid = f"/subscriptions/{subscription}/providers/{related.related_type}/{related.name}"
            if _related_key(rid) in self._read_related:
                continue
            self._read_related.add(_related_key(rid))
            yield from self._once(self._related_from_arm(related, subscription, rid))

    def _every_related(self, related: RelatedColumn, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every subscription-scope resource of one type (the security contacts): those in the
        bag joined into ``row``; where Resource Graph gave none, those ARM lists (once per
        subscription)."""
        ltype = related.related_type.lower()
        bag = row.get(related.column)
        entries = bag.values() if isinstance(bag, dict) else ()
        found = [item for item in entries if usable(item) and str(item.get("type", "")).lower() == ltype]
        for item in found:
            self._read_related.add(_related_key(item["id"]))
            yield from self._once(item)
        subscription = row.get("subscriptionId")
        if found or not isinstance(subscription, str) or not subscription:
            return
        listed = f"/subscriptions/{subscription}/providers/{related.related_type}".lower()
        if listed in self._read_related:
            return
        self._read_related.add(listed)
        for item in self._every_from_arm(related, subscription):
            yield from self._once(item)

    def _every_from_arm(self, related: RelatedColumn, subscription: str) -> list[dict[str, Any]]:
        """The subscription's resources of one type as ARM lists them; none gives the platform
        default with a note (Defender for Cloud mails the owners about high-severity alerts
        when no contact is set); a failed read, a row annotated as unread."""
        ltype = related.related_type.lower()
        kind = catalog().get(related.related_type)
        assert kind is not None and kind.arm is not None, "the planner reads only what the catalog can fetch"
        url = f"{kind.arm.path.replace('{subscriptionId}', subscription)}?api-version={kind.arm.api_version}"
        rid = f"/subscriptions/{subscription}/providers/{related.related_type}/default"
        shell = {"id": rid, "name": "default", "type": related.related_type, "subscriptionId": subscription}
        what = f"{related.related_type.rsplit('/', 1)[-1]} (every one)"
        self.progress.planned(1)
        try:
            items = self.arm.list(url)
        except ArmAuthError:
            raise
        except ArmError as exc:
            self._refused(exc, related.related_type, what, subscription)
            return [_unread(shell, ltype, f"not read: {exc}")]
        self.progress.done()
        rows = [item for item in items if usable(item)]
        if len(rows) < len(items):
            return [_unread(shell, ltype, "not read: ARM listed items without a usable id")]
        default = PLATFORM_DEFAULTS.get(ltype)
        if rows or default is None:
            return rows
        kind_name = related.related_type.rsplit("/", 1)[-1]
        return [_assumed(shell, default, f"neither Resource Graph nor ARM has any of the subscription's "
                         f"{kind_name}: the platform default was assumed (subscription owners are mailed "
                         "about high-severity alerts)")]

    def _related_from_arm(self, related: RelatedColumn, subscription: str, rid: str) -> dict[str, Any]:
        """The row for a subscription-scope resource from ARM: as ARM gives it (200); the
        platform default with a note (404 for what Azure always has); else a row annotated as
        unread, so the rules that read it say ``unknown`` (and a 403 makes the scan incomplete)."""
        ltype = related.related_type.lower()
        kind = catalog().get(related.related_type)
        path, api = (kind.arm.path, kind.arm.api_version) if kind is not None and kind.arm is not None \
            else (PRICINGS_PATH, PRICINGS_API)
        url = path.replace("{subscriptionId}", subscription).replace("{name}", related.name)
        shell = {"id": rid, "name": related.name, "type": related.related_type,
                 "subscriptionId": subscription}
        what = f"{related.related_type} '{related.name}'"
        self.progress.planned(1)
        try:
            body = self.arm.get(f"{url}?api-version={api}")
        except ArmAuthError:
            raise
        except ArmError as exc:
            default = PLATFORM_DEFAULTS.get(ltype)
            assume = exc.status == 404 and default is not None
            self._refused(exc, related.related_type, what, subscription, assumed=assume)
            if assume and default is not None:
                settings = ", ".join(f"{k} {v}" for k, v in default.items())
                return _assumed(shell, default, f"not in Resource Graph, and ARM answered 404 for the "
                                f"subscription's {what}: the platform default was assumed ({settings})")
            return _unread(shell, ltype, f"not read: {exc}")
        self.progress.done()
        if usable(body) and body["id"].lower() == rid.lower():
            return body
        return _unread(shell, ltype, "not read: ARM answered without its id")

    def _refused(self, exc: ArmError, related_type: str, what: str, subscription: str, *,
                 assumed: bool = False) -> None:
        """Account for a subscription-scope read ARM refused: unread (unless its platform
        default is assumed), a 404 counted, a 403 listed with the role that allows the read."""
        self.progress.done()
        with self._lock:
            self.status.unread_children += not assumed
            self.status.not_found += exc.status == 404
            if exc.status == 403:
                scope = f"/subscriptions/{subscription}"
                self.status.denied.append(Denied(what, scope, role_for(related_type)))

    def _once(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if row["id"].lower() not in self._emitted:
            self._emitted.add(row["id"].lower())
            yield row

    def _children(self, row: dict[str, Any],
                  reads: list[ArmRead]) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
        """The children ``reads`` give for the resource ``row`` (run in the pool), the
        reason for each that could not be read, and the child types listed in full."""
        rid: str = row["id"]
        children: list[dict[str, Any]] = []
        unread: dict[str, str] = {}
        listed: list[str] = []
        for read in reads:
            try:
                found = self._read(read, rid, str(row.get("subscriptionId") or ""))
            except ArmAuthError:
                raise
            except ArmError as exc:
                self.progress.done()
                unread[read.related_type.lower()] = f"not read: {exc}"
                with self._lock:
                    self.status.unread_children += 1
                    if exc.status == 403:
                        self.status.denied.append(Denied(read.related_type, rid, role_for(read.related_type)))
                    elif exc.status == 404:
                        self.status.not_found += 1
                continue
            self.progress.done()
            idless = sum(not usable(c) for c in found)
            if idless:  # a child the assembler cannot attach: the rules that need it cannot judge
                unread[read.related_type.lower()] = (f"not read: ARM answered {idless} item(s) without "
                                                     "a usable id")
                with self._lock:
                    self.status.unread_children += 1
                continue
            children += found
            if EVERY in read.names:
                listed.append(read.related_type.lower())
            named = {n.lower() for n in read.names if n != EVERY}
            missing = named - {str(c.get("name", "")).lower() for c in found}
            if missing:  # read, and not there: say so rather than guess
                unread[read.related_type.lower()] = f"not in the ARM answer: {', '.join(sorted(missing))}"
        return children, unread, listed

    def _read(self, read: ArmRead, rid: str, subscription: str) -> list[dict[str, Any]]:
        def fill(url: str) -> str:
            filled = url.replace("{parentId}", rid).replace("{id}", rid)
            return filled.replace("{subscriptionId}", subscription)

        wanted = {n.lower() for n in read.names}
        if read.method == "list":
            return [item for item in self.arm.list(fill(read.url_template))
                    if EVERY in wanted or str(item.get("name", "")).lower() in wanted]
        return [self.arm.get(fill(url)) for url in read.urls()]


__all__: Sequence[str] = ["LiveScan", "Scope", "rebuild"]
