"""``policyengine doctor --azure``: whether a live scan can work with these credentials, in a
few requests — sign-in, the subscriptions visible, ``securityresources``, the ARM reads of
server children, and one tiny Resource Graph query per class of KQL constructs the compiled
queries use (docs/architecture.md, "Azure facts": Resource Graph runs an undocumented subset
of KQL, so a construct the parser accepts may still be refused by the service).

Imported only when the command runs, so ``--help`` loads no Azure SDK.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from policyengine.kql.constructs import plan_constructs
from policyengine.kql.plan import Plan
from policyengine.sources.azure.arm import ArmAuthError, ArmClient, ArmError
from policyengine.sources.azure.graph import GraphClient, GraphError
from policyengine.sources.azure.live import SUBSCRIPTIONS_API
from policyengine.sources.azure.signin import sign_in_reason

SIGN_IN = ("sign in with `az login` (or choose a credential with --auth), or put a token in "
           "POLICYENGINE_ACCESS_TOKEN")
FLEX = "microsoft.dbforpostgresql/flexibleservers"
#: The checks after sign-in and the subscriptions, each skipped when those fail.
LATER = ("securityresources in Resource Graph", "ARM reads of server children", "KQL constructs")
#: Subscriptions named in the line that lists them.
SHOWN = 3


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "FAIL" or "skip"
    what: str
    detail: str = ""
    fix: str = ""

    def text(self) -> str:
        line = f"{self.status:<4}  {self.what}"
        if self.detail:
            line += f": {self.detail}"
        if self.fix:
            line += f" — fix: {self.fix}"
        return line

    def to_json(self) -> dict[str, str]:
        return {"status": self.status, "check": self.what, "detail": self.detail, "fix": self.fix}


#: The base of every probe: a type filter on ``resources`` (Resource Graph checks the query
#: whether or not a row matches).
BASE = f'resources\n| where type =~ "{FLEX}"'
#: Constructs every probe carries: the base, an extend and a project.
CARRIED = frozenset({"| where", "=~", "| extend", "| project"})
#: A scalar expression per construct, probed as ``| extend c = EXPR``.
SCALARS: dict[str, str] = {
    "==": "1 == 1", " and ": "true and true", " or ": "false or true", "!=": "1 != 2",
    "case()": "case(true, 1, 0)", "iff()": "iff(true, 1, 0)", "not()": "not(false)",
    "isnull()": "isnull(location)", "isnotnull()": "isnotnull(id)",
    "array_length()": "array_length(bag_keys(properties))", "bag_keys()": "bag_keys(properties)",
    "tostring()": "tostring(properties.state)", "tolower()": "tolower(name)",
    "todouble()": 'todouble("1.5")', "pack()": 'pack("k", name)',
    "indexof()": 'indexof(name, "p")', "substring()": "substring(name, 0, 1)", "strlen()": "strlen(name)",
    "arithmetic a - b": "strlen(name) - 1", "startswith": 'name startswith "p"',
    "endswith": 'name endswith "p"', "in (": 'name in ("a", "b")', "in~ (": 'name in~ ("a", "b")',
    "matches regex": 'name matches regex "^p"', "strcat()": 'strcat(tolower(type), "/", tolower(name))',
}
#: Whole queries for the tabular constructs: the pricing join's shape (over resourcecontainers,
#: so that a denied securityresources is not mistaken for a refused construct), a summary.
TABULAR: dict[str, str] = {
    "join": (f"{BASE}\n| join kind=leftouter (resourcecontainers\n"
             '    | where type =~ "microsoft.resources/subscriptions"\n'
             '    | summarize bag = make_bag(pack(tolower(name), pack("id", id)))\n'
             "      by subscriptionId) on subscriptionId\n| extend b = bag\n| project id, b"),
    "summary": f"{BASE}\n| extend c = 1\n| summarize n = countif(isnotnull(id))\n    by subscriptionId",
}
#: Which tabular probe proves a construct.
TABULAR_OF = {"join kind=leftouter": "join", "make_bag()": "join", "| summarize": "summary",
              "countif()": "summary"}
#: The classes, each one probe query; a construct is in the first class that lists it.
CLASSES: dict[str, tuple[str, ...]] = {
    "comparisons and logic": ("==", "!=", " and ", " or ", "case()", "iff()", "not()", "isnull()",
                              "isnotnull()"),
    "dynamic values": ("array_length()", "bag_keys()", "tostring()", "tolower()", "todouble()", "pack()"),
    "string functions": ("indexof()", "substring()", "strlen()", "arithmetic a - b", "startswith",
                         "endswith", "in (", "in~ (", "matches regex", "strcat()"),
    "the subscription join": ("join kind=leftouter", "make_bag()"),
    "summaries": ("| summarize", "countif()"),
}
KNOWN = CARRIED | set(SCALARS) | set(TABULAR_OF)


def probe(used: Iterable[str]) -> str:
    """The smallest query that uses these constructs (scalar ones, or one tabular shape)."""
    used = list(used)
    shapes = {TABULAR_OF[c] for c in used if c in TABULAR_OF}
    if shapes:
        return TABULAR[sorted(shapes)[0]]
    scalars = [c for c in used if c in SCALARS] or ["=="]
    columns = [f"c{i}" for i in range(len(scalars))]
    extend = ",\n    ".join(f"{col} = {SCALARS[c]}" for col, c in zip(columns, scalars, strict=True))
    return f"{BASE}\n| extend {extend}\n| project id, {', '.join(columns)}"


# -- the checks ---------------------------------------------------------------------------------

@dataclass
class Doctor:
    """Runs the checks in order; a check that cannot run without an earlier one says ``skip``."""

    credential: Any
    audience: str
    graph: GraphClient
    arm: ArmClient
    plan: Plan
    subscriptions: tuple[str, ...] = ()
    management_group: str | None = None
    #: The subscriptions the identity lists (enabled ones), once signed in.
    visible: list[str] = field(default_factory=list)

    def run(self, emit: Callable[[Check], None]) -> list[Check]:
        checks: list[Check] = []

        def add(check: Check) -> None:
            checks.append(check)
            emit(check)

        signed_in, listed = self.sign_in()
        add(signed_in)
        if signed_in.status != "ok":
            for what in ("subscriptions", *LATER):
                add(Check("skip", what, "needs sign-in"))
            return checks
        scope = self.scope_check(listed or [])
        add(scope)
        if scope.status == "FAIL" and not self._scope():
            for what in LATER:
                add(Check("skip", what, "no subscription to query"))
            return checks
        add(self.security_resources())
        for check in self.server_reads():
            add(check)
        for check in self.dialect():
            add(check)
        return checks

    # 1. sign-in: a token for ARM, and ARM takes it (listing the subscriptions).
    def sign_in(self) -> tuple[Check, list[dict[str, Any]] | None]:
        from azure.core.exceptions import ClientAuthenticationError

        what = "sign-in"
        try:
            self.credential.get_token(self.audience)
        except ClientAuthenticationError as exc:
            return Check("FAIL", what, f"no token for {self.audience}: {sign_in_reason(exc)}", SIGN_IN), None
        try:
            listed = self.arm.list(SUBSCRIPTIONS_API)
        except ArmAuthError as exc:
            return Check("FAIL", what, f"ARM refused the token: {exc}", SIGN_IN), None
        except ClientAuthenticationError as exc:
            return Check("FAIL", what, f"no token for {self.audience}: {sign_in_reason(exc)}", SIGN_IN), None
        except ArmError as exc:
            # Signed in, but the list failed: the subscriptions line says so.
            return Check("ok", what, f"a token for {self.audience}"), _failed_list(str(exc))
        return Check("ok", what, f"a token for {self.audience}, accepted by ARM"), listed

    # 2. the subscriptions visible (or the ones given).
    def scope_check(self, listed: list[dict[str, Any]]) -> Check:
        what = "subscriptions"
        failure = next((item["$failed"] for item in listed if "$failed" in item), None)
        visible = {str(s.get("subscriptionId", "")).lower(): str(s.get("displayName") or "")
                   for s in listed if isinstance(s.get("subscriptionId"), str)
                   and s.get("state") not in ("Disabled", "Deleted")}
        self.visible = [str(s["subscriptionId"]) for s in listed if str(s.get("subscriptionId", "")).lower()
                        in visible]
        if failure is not None:
            return Check("FAIL", what, f"the subscription list could not be read: {failure}",
                         "grant Reader on the subscriptions to scan")
        if self.management_group:
            return Check("ok", what, f"management group {self.management_group}; "
                         f"{len(visible)} subscription(s) listed")
        if self.subscriptions:
            hidden = [s for s in self.subscriptions if s.lower() not in visible]
            if hidden:
                return Check("FAIL", what, f"{len(hidden)} of {len(self.subscriptions)} given not visible to "
                             f"this identity: {', '.join(hidden)}", "grant Reader on them (or check the ids)")
            return Check("ok", what, f"all {len(self.subscriptions)} given are visible")
        if not visible:
            return Check("FAIL", what, "the identity can read no enabled subscription",
                         "grant Reader on the subscriptions to scan")
        names = ", ".join(f"{sid} ({visible[sid.lower()]})" if visible[sid.lower()] not in ("", sid) else sid
                          for sid in self.visible[:SHOWN])
        more = f", and {len(visible) - SHOWN} more" if len(visible) > SHOWN else ""
        return Check("ok", what, f"{len(visible)} visible: {names}{more}")

    def _scope(self) -> list[str] | None:
        if self.management_group:
            return None
        return list(self.subscriptions) or list(self.visible)

    def _rows(self, query: str) -> list[Any]:
        return list(self.graph.rows(query, subscriptions=self._scope(),
                                    management_group=self.management_group))

    # 3. securityresources (the Defender plans every flexible-server query joins in).
    def security_resources(self) -> Check:
        what = "securityresources in Resource Graph"
        query = ('securityresources\n| where type =~ "microsoft.security/pricings"\n'
                 "| project id, subscriptionId")
        try:
            rows = self._rows(query)
        except GraphError as exc:
            if _status(exc) == 403:
                return Check("FAIL", what, str(exc), "grant Security Reader (or Reader) on the subscriptions")
            return Check("FAIL", what, str(exc), _graph_fix(exc))
        plans = sum(1 for r in rows if isinstance(r, dict))
        if not plans:
            # Resource Graph hides rows the identity may not read: none is no proof of access.
            return Check("ok", what, "readable, but no Defender plan row: the scan reads each plan from ARM "
                         "(Security Reader lets Resource Graph show them)")
        return Check("ok", what, f"readable, {plans} Defender plan row(s)")

    # 4. ARM reads of a server's children, as the live scan makes them.
    def server_reads(self) -> list[Check]:
        query = next((q for q in self.plan.queries if q.resource_type.lower() == FLEX and q.arm_reads),
                     next((q for q in self.plan.queries if q.arm_reads), None))
        if query is None:
            return [Check("skip", "ARM reads of server children", "the rules need none")]
        what = f"ARM reads of {query.resource_type.rsplit('/', 1)[-1]} children"
        try:
            # No take/limit (the compiler never emits them): the first row of the first page is
            # enough, and the pages after it are never asked for.
            rows = self.graph.rows(f'{query.table}\n| where type =~ "{query.resource_type.lower()}"\n'
                                   "| project id, name, subscriptionId", subscriptions=self._scope(),
                                   management_group=self.management_group)
            server = next((r for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)), None)
        except GraphError as exc:
            return [Check("FAIL", what, f"no server could be looked up: {exc}", _graph_fix(exc))]
        if server is None:
            return [Check("skip", what, f"no {query.resource_type} in the scope to read from")]
        rid, subscription = server["id"], str(server.get("subscriptionId") or "")
        checks = []
        for read in query.arm_reads:
            child = read.related_type.rsplit("/", 1)[-1]
            url = read.urls()[0].replace("{parentId}", rid).replace("{id}", rid)
            url = url.replace("{subscriptionId}", subscription)
            try:
                self.arm.get(url)
            except ArmAuthError as exc:
                checks.append(Check("FAIL", f"{what}: {child}", str(exc), SIGN_IN))
            except ArmError as exc:
                if exc.status == 404:  # read and allowed; this server has none
                    checks.append(Check("ok", f"{what}: {child}", f"allowed (404 on {rid})"))
                elif exc.status == 403:
                    checks.append(Check("FAIL", f"{what}: {child}", f"{exc} on {rid}",
                                        "grant Reader on the servers (or their resource group or "
                                        f"subscription): {read.related_type}/read"))
                else:
                    checks.append(Check("FAIL", f"{what}: {child}", f"{exc} on {rid}", "try again; "
                                        "if it persists, check the network path to ARM"))
            else:
                checks.append(Check("ok", f"{what}: {child}", f"read on {server.get('name') or rid}"))
        return checks

    # 5. one tiny query per class of constructs the compiled queries use.
    def dialect(self) -> list[Check]:
        used = plan_constructs(self.plan)
        checks = []
        unknown = sorted(used - KNOWN)
        for name, members in CLASSES.items():
            present = [c for c in members if c in used]
            if not present:
                continue
            what = f"KQL {name}"
            try:
                self._rows(probe(present))
            except GraphError as exc:
                if _status(exc) != 400:
                    checks.append(Check("FAIL", what, str(exc), _graph_fix(exc)))
                    continue
                refused = self._refused(present)
                named = ", ".join(refused) if refused else ", ".join(present)
                checks.append(Check("FAIL", what, f"Resource Graph refused {named}: {exc}",
                                    "report it with this line: the compiler must avoid it"))
                continue
            checks.append(Check("ok", what, ", ".join(c.strip() for c in present)))
        if unknown:
            checks.append(Check("skip", "KQL constructs without a probe", ", ".join(unknown)))
        return checks

    def _refused(self, present: list[str]) -> list[str]:
        """Each construct of a refused probe tried alone: the ones Resource Graph refuses."""
        refused = []
        for construct in present:
            try:
                self._rows(probe([construct]))
            except GraphError as exc:
                if _status(exc) == 400:
                    refused.append(construct.strip())
        return refused


def _status(exc: GraphError) -> int | None:
    """The HTTP status in a GraphError's reason ("Resource Graph answered 403: ...")."""
    match = re.match(r"Resource Graph answered (\d{3})\b", str(exc))
    return int(match.group(1)) if match else None


def _graph_fix(exc: GraphError) -> str:
    status = _status(exc)
    if status == 403:
        return "grant Reader on the subscriptions (Microsoft.ResourceGraph/resources/read)"
    if status == 429:
        return "the Resource Graph quota is spent: wait a few seconds and run again"
    return "try again; if it persists, check the network path to ARM"


def _failed_list(reason: str) -> list[dict[str, Any]]:
    return [{"$failed": reason}]
