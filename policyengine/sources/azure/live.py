"""A live scan: the query plan run against Azure, as a stream of rows in parent-first order.

Subscription-level rows (subscriptions, the pricings joined in by the queries) come before
the resources of their subscription, and each resource is followed by the children read from
ARM, so the same assembler that streams a snapshot streams a live scan, and
``policyengine collect`` writes exactly these rows to replay the scan offline.

Faults never drop a resource: a child that ARM would not give (403, 404, timeout, malformed
answer) is recorded on its resource as unread, with the reason, and the rules that need it
say ``unknown``; a Resource Graph batch that fails is recorded as not evaluated, and the scan
is incomplete.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from policyengine.errors import IncompleteEvaluation
from policyengine.kql.plan import ArmRead, Plan, Query
from policyengine.records.model import ANNOTATION
from policyengine.sources.azure.arm import ArmAuthError, ArmClient, ArmError
from policyengine.sources.azure.graph import BATCH, GraphClient, GraphError
from policyengine.status import Gap, ScanStatus

SUBSCRIPTIONS_API = "/subscriptions?api-version=2022-12-01"
WINDOW = 64


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
                 concurrency: int = 8, progress: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.graph = graph
        self.arm = arm
        self.scope = scope
        self.concurrency = max(1, concurrency)
        self.progress = progress or (lambda _text: None)
        self.status = ScanStatus("live")
        self._lock = threading.Lock()
        self._emitted: set[str] = set()

    # -- scope ------------------------------------------------------------------------------
    def batches(self) -> list[list[str] | None]:
        if self.scope.management_group:
            return [None]
        try:
            subscriptions = list(self.scope.subscriptions) or self.list_subscriptions()
        except ArmAuthError:
            raise
        except ArmError as exc:
            raise IncompleteEvaluation(f"the subscriptions could not be listed: {exc}") from None
        if not subscriptions:
            raise IncompleteEvaluation("the identity can read no subscription")
        return [subscriptions[i:i + BATCH] for i in range(0, len(subscriptions), BATCH)]

    def list_subscriptions(self) -> list[str]:
        items = self.arm.list(SUBSCRIPTIONS_API)
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
        batches = self.batches()
        # The subscriptions' own query first: their rows and pricings precede any resource.
        queries = sorted(self.plan.queries, key=lambda q: q.table != "resourcecontainers")
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for query in queries:
                for number, batch in enumerate(batches, 1):
                    self.progress(f"{query.resource_type}: batch {number}/{len(batches)}")
                    try:
                        yield from self._query(query, batch, pool)
                    except GraphError as exc:
                        self.status.not_evaluated.append(Gap(
                            query.resource_type, str(exc), tuple(batch or ()), self.scope.management_group))
        self.status.truncated = list(self.graph.stats.truncated)

    def _query(self, query: Query, batch: list[str] | None,
               pool: ThreadPoolExecutor) -> Iterator[dict[str, Any]]:
        rows = self.graph.rows(query.text, subscriptions=batch, management_group=self.scope.management_group)
        while True:
            window = list(itertools.islice(rows, WINDOW))
            if not window:
                return
            children = pool.map(lambda r: self._children(query, r), window)
            for row, (child_rows, unread) in zip(window, children, strict=True):
                yield from self._subscription_rows(query, row)
                # A subscription-scope resource read from ARM precedes the resources of its
                # subscription, as the parent-first order wants; once per subscription.
                for child in child_rows:
                    if "/resourcegroups/" not in str(child.get("id", "")).lower():
                        yield from self._once(child)
                resource = rebuild(query, row)
                if unread:
                    resource[ANNOTATION] = {"unread": unread}
                yield resource
                yield from (c for c in child_rows if "/resourcegroups/" in str(c.get("id", "")).lower())
            self.progress(f"{query.resource_type}: {self.graph.stats.rows} rows, "
                          f"{self.arm.stats.requests} ARM reads")

    def _subscription_rows(self, query: Query, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for related in query.related:
            bag = row.get(related.column)
            if isinstance(bag, dict) and isinstance(bag.get("id"), str):
                yield from self._once(bag)

    def _once(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if row["id"].lower() not in self._emitted:
            self._emitted.add(row["id"].lower())
            yield row

    def _children(self, query: Query, row: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        rid = row.get("id")
        children: list[dict[str, Any]] = []
        unread: dict[str, str] = {}
        if not isinstance(rid, str):
            return children, unread
        for read in query.arm_reads:
            if not _needed(query, read, self.plan, row):
                continue
            try:
                found = self._read(read, rid, str(row.get("subscriptionId") or ""))
            except ArmAuthError:
                raise
            except ArmError as exc:
                unread[read.related_type.lower()] = f"not read: {exc}"
                with self._lock:
                    self.status.unread_children += 1
                continue
            children += found
            missing = {n.lower() for n in read.names} - {str(c.get("name", "")).lower() for c in found}
            if missing:  # read, and not there: say so rather than guess
                unread[read.related_type.lower()] = f"not in the ARM answer: {', '.join(sorted(missing))}"
        return children, unread

    def _read(self, read: ArmRead, rid: str, subscription: str) -> list[dict[str, Any]]:
        def fill(url: str) -> str:
            filled = url.replace("{parentId}", rid).replace("{id}", rid)
            return filled.replace("{subscriptionId}", subscription)

        wanted = {n.lower() for n in read.names}
        if read.method == "list":
            return [item for item in self.arm.list(fill(read.url_template))
                    if str(item.get("name", "")).lower() in wanted]
        return [self.arm.get(fill(url)) for url in read.urls()]


__all__: Sequence[str] = ["LiveScan", "Scope", "rebuild"]
