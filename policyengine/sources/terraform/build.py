"""Assemble records from a plan's instances: servers with their children (server
parameters, alert policies) attached, each with the record of its subscription
(:mod:`.subscriptions`), which holds the Defender pricings the plan declares.

A child joins its server, in order of certainty:

* by its parent attribute when the plan knows it (``server_id``; ``server_name`` and
  ``resource_group_name``): ARM ids compare case-insensitively, and a server whose own id
  waits on the subscription (``/subscriptions/[...]/...``) matches on the rest of the id;
* when that attribute is known only after apply, through the configuration's references
  (:mod:`.references`);
* when its server cannot be told, it is a note, and every server it may configure gets that
  child as unknown, so no server passes on a platform default the plan may override. A
  server parameter whose *name* is known only after apply does the same for every parameter
  the catalog has a platform default for.

A resource whose values the provider's schema does not allow (or whose entry cannot be read
at all, :class:`.plan.Invalid`) is an input error of that resource only: the rest of the plan
is evaluated, and what it would set on another resource (a server parameter, a pricing) is
unknown there, never a platform default.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from policyengine.catalog import catalog
from policyengine.errors import InputError, Span
from policyengine.ir import SourceKind
from policyengine.paths import MISSING
from policyengine.records.graph import child_key
from policyengine.records.model import Origin, Record, declared_id, subscription_of, type_from_id
from policyengine.sources.terraform import mapping
from policyengine.sources.terraform.addresses import Key, ModulePath, ResourceAddr
from policyengine.sources.terraform.plan import KNOWN_AFTER_APPLY, Instance, Invalid, Plan
from policyengine.sources.terraform.references import Configuration, Unresolved
from policyengine.sources.terraform.subscriptions import Children, Subscription, Subscriptions
from policyengine.status import InputProblem, Unit
from policyengine.unknown import Unknown

_THREAT_NOTE = ("sets Microsoft.Security/advancedThreatProtectionSettings on the server, not the "
                "server's own {setting} setting the rules read; {outcome}")


@dataclass(frozen=True)
class PlanResult:
    """What a plan yields: the records to evaluate (servers, and a subscription record for
    each subscription in which the plan declares a Defender pricing), notes a user may want
    in verbose mode, and by Terraform type how many resources were not mapped."""

    records: list[Record]
    notes: list[str]
    ignored: dict[str, int]
    #: Resources that cannot be read or mapped, each an input error of its own.
    problems: list[InputProblem] = field(default_factory=list)


@dataclass
class _Server:
    inst: Instance
    kind: mapping.ServerKind
    subscription: Subscription
    id: str
    data: dict[str, Any]
    children: Children = field(default_factory=Children)


@dataclass(frozen=True)
class _Uncertain:
    """A child that may belong to ``servers``, or whose name is unknown: settled last, so
    that what the plan does declare for a server wins. ``name`` is its name where the plan
    holds one (anything else stands for every parameter with a platform default)."""

    address: str
    name: Any
    kind: mapping.ChildKind
    servers: list[_Server]
    reason: str


class Builder:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.notes: list[str] = []
        self.ignored: Counter[str] = Counter()
        keys: dict[tuple[ModulePath, str], set[Key]] = {}
        for inst in plan.instances:
            if not inst.removed and inst.addr.mode == "managed":
                keys.setdefault((inst.addr.module, inst.addr.local), set()).add(inst.addr.key)
        self.config = Configuration(plan.configuration, plan.variables, keys)
        self.subscriptions = Subscriptions(self.config)
        self.servers: list[_Server] = []
        self.by_addr: dict[ResourceAddr, _Server] = {}
        self.by_id: dict[str, _Server] = {}
        self.uncertain: list[_Uncertain] = []
        self.by_parents: dict[frozenset[str], list[_Server]] = {}
        self.problems: list[InputProblem] = []
        #: Servers that are input errors (not evaluated), by address.
        self.invalid_servers: set[str] = set()

    def note(self, inst: Instance, text: str) -> None:
        self.notes.append(f"{Span(self.plan.file, inst.line).prefix()}: {inst.address}: {text}")

    def malformed(self, inst: Instance, message: str) -> InputError:
        return InputError(f"{inst.address}: {message}", Span(self.plan.file, inst.line))

    def invalid(self, inst: Instance, exc: InputError) -> str:
        """``inst`` is an input error of its own; returns why what it sets is unknown."""
        span = exc.span or Span(self.plan.file, inst.line)
        self.problems.append(InputProblem(span, f"{exc.message}; this resource is not evaluated, the rest "
                                          "of the plan is", Unit.RESOURCE, inst.address))
        return f"{inst.address} is invalid in the plan (see its input error at {span.prefix()})"

    def build(self) -> PlanResult:
        by_role: dict[str, list[Instance]] = {"server": [], "child": [], "pricing": [], "threat": [],
                                              "contact": []}
        for inst in self.plan.instances:
            role = _role(inst)
            if role is None:
                self.ignored[("data." if inst.addr.mode == "data" else "") + inst.addr.type] += 1
            else:
                by_role[role].append(inst)
        servers = [i for i in by_role["server"] if not self._removed(i)]
        # A deleted pricing still declares something (the tier goes back to Free).
        pricings = [i for i in by_role["pricing"]
                    if not self._removed(i) or not (i.deposed or "forget" in i.actions)]
        contacts = [i for i in by_role["contact"] if not self._removed(i)]
        for inst in servers + pricings + contacts:
            self.subscriptions.remember(inst)
        for inst in servers:
            try:
                self._server(inst)
            except InputError as exc:
                self.invalid(inst, exc)
                self.invalid_servers.add(inst.address)
        for bad in self.plan.invalid:
            self._unreadable(bad)
        for inst in by_role["child"]:
            if not self._removed(inst):
                self._child(inst, mapping.CHILDREN[inst.addr.type])
        for inst in by_role["threat"]:
            if not self._removed(inst):
                self._threat_protection(inst)
        for inst in pricings:
            self._pricing(inst)
        for inst in contacts:
            self._contact(inst)
        for uncertain in self.uncertain:
            self._settle(uncertain)
        return PlanResult(self._records(), self.notes, dict(sorted(self.ignored.items())),
                          [bad.problem for bad in self.plan.invalid] + self.problems)

    def _unreadable(self, bad: Invalid) -> None:
        """An entry of the plan that cannot be read: what it may set is unknown wherever it
        may land (its values cannot be read, so which server or subscription cannot be told)."""
        tf_type = bad.addr.type if bad.addr is not None else bad.type
        address = str(bad.addr) if bad.addr is not None else (bad.problem.resource or "?")
        why = f"{address} is invalid in the plan (see its input error at {bad.problem.span.prefix()})"
        if tf_type in mapping.SERVERS:
            self.invalid_servers.add(address)
        elif tf_type in mapping.CHILDREN:
            kind = mapping.CHILDREN[tf_type]
            self.uncertain.append(_Uncertain(address, MISSING, kind, self._candidates(kind), why))
        elif tf_type == mapping.PRICING_TYPE:
            for sub in self.subscriptions.all():
                sub.unread.setdefault(mapping.PRICINGS.lower(), why)
        elif tf_type == mapping.THREAT_PROTECTION_TYPE:
            for server in self.servers:
                ctype, cname = server.kind.threat_setting
                state = Unknown(f"{address}.enabled", why)
                server.children.assume(child_key(ctype, cname), {"name": cname, "type": ctype,
                                                             "properties": {"state": state}})

    def _removed(self, inst: Instance) -> bool:
        """Whether the plan leaves nothing of ``inst`` (noting why it is not evaluated)."""
        if not inst.removed:
            return False
        if inst.deposed:
            self.note(inst, "a deposed object the plan destroys; not evaluated")
        elif "forget" in inst.actions:
            self.note(inst, "the plan stops managing it (a removed block) and Azure keeps it as it is; "
                            "not evaluated")
        elif inst.addr.type != mapping.PRICING_TYPE:  # a deleted pricing says something: see _pricing
            self.note(inst, "the plan deletes it; not evaluated")
        return True

    def _records(self) -> list[Record]:
        subs = {id(s): s.record(self.plan.file) for s in self.subscriptions.all()}
        records = [
            Record(s.id, s.kind.arm_type, s.data,
                   Origin(self.plan.file, s.inst.line, SourceKind.DECLARED, address=s.inst.address),
                   dict(s.children.items), subscription=subs[id(s.subscription)])
            for s in self.servers]
        # A subscription is evaluated only where the plan declares a pricing in it: a plan
        # that merely creates servers says nothing about its subscription's Defender plan.
        return records + [subs[id(s)] for s in self.subscriptions.all() if s.declares]

    def _apply(self, inst: Instance, fields: tuple[mapping.Field, ...], values: Any, out: dict[str, Any],
               prefix: str = "") -> None:
        try:
            mapping.apply(fields, values, out)
        except mapping.Malformed as exc:
            raise self.malformed(inst, f"{prefix}{exc}") from None

    # -- servers ----------------------------------------------------------------------------
    def _part(self, inst: Instance, attribute: str) -> str | Unknown:
        value = inst.values.get(attribute)
        if (isinstance(value, str) and value) or isinstance(value, Unknown):
            return value
        raise self.malformed(inst, f"{attribute}: expected a non-empty string")

    def _server(self, inst: Instance) -> None:
        kind = mapping.SERVERS[inst.addr.type]
        sub = self.subscriptions.of(inst)
        name, rg = self._part(inst, "name"), self._part(inst, "resource_group_name")
        known = inst.values.get("id")
        subscription_id: str | Unknown | None
        if isinstance(known, str) and known:
            rid, subscription_id = known, subscription_of(known)
        else:
            rid, subscription_id = declared_id(sub.id, rg, kind.arm_type, [name]), sub.id
        data: dict[str, Any] = {"id": rid, "type": kind.arm_type, "resourceGroup": rg,
                                "subscriptionId": subscription_id}
        self._apply(inst, kind.fields, inst.values, data)
        first = self.by_id.get(rid.lower())
        if first is not None:
            self.note(inst, f"declares the same Azure resource as {first.inst.address} ({rid}); "
                            "apply fails for one of them; evaluated once")
            return
        server = _Server(inst, kind, sub, rid, data)
        for block in kind.blocks:
            body = mapping.read(inst.values, (block.attribute, 0))
            if body is MISSING:
                continue  # no block: the evaluator applies the platform default
            child = {"id": f"{rid}/{_last_type(block.child_type)}/{block.child_name}",
                     "name": block.child_name, "type": block.child_type}
            self._apply(inst, block.fields, body, child, prefix=f"{block.attribute}[0].")
            server.children.declare(child_key(block.child_type, block.child_name), child, inst.address)
        self.servers.append(server)
        self.by_addr[inst.addr] = server
        self.by_id[rid.lower()] = server

    def _by_id(self, rid: str) -> _Server | None:
        exact = self.by_id.get(rid.lower())
        if exact is not None:
            return exact
        # A server created in this plan may wait on its subscription (/subscriptions/[...]/...):
        # a literal id equal but for the subscription names it.
        tail = _after_subscription(rid)
        loose = [s for s in self.servers
                 if s.id.startswith("/subscriptions/[") and _after_subscription(s.id) == tail]
        return loose[0] if len(loose) == 1 else None

    # -- children ---------------------------------------------------------------------------
    def _find_parent(self, inst: Instance, kind: mapping.ChildKind) -> _Server | list[_Server] | str:
        """The server a child belongs to; the servers it may belong to (with a note) when that
        cannot be told; or why it belongs to none in this plan."""
        attribute = kind.join_attribute
        value = inst.values.get(attribute)
        if isinstance(value, str) and kind.parent_id:
            missing = f"configures {value}, a server not in this plan{self._or_invalid()}; not evaluated"
            return self._by_id(value) or missing
        if isinstance(value, str):
            rg = inst.values.get(kind.parent_names[1])
            found = [s for s in self._candidates(kind) if _same(s.data.get("name"), value)
                     and (isinstance(rg, Unknown) or _same(s.data.get("resourceGroup"), rg))]
            if len(found) > 1:
                found = [s for s in found if s.subscription is self.subscriptions.of(inst)] or found
            if not found:
                return (f"configures server {value!r}, which is not in this plan{self._or_invalid()}; "
                        "not evaluated")
            return found[0] if len(found) == 1 else found
        if value is None:
            # planned_values omit what is unknown, and a required attribute is never unset.
            why = KNOWN_AFTER_APPLY if not inst.actions else "absent"
            value = Unknown(f"{inst.address}.{attribute}", why)
        if not isinstance(value, Unknown):
            return f"{attribute} is not a string; not evaluated"
        resolved = self.config.resolve(inst.addr, attribute, kind.parents)
        if isinstance(resolved, Unresolved):
            self.note(inst, f"its {attribute} is {value.reason} and which server it names cannot be told: "
                            f"{resolved.reason}; every server it may configure gets it as unknown")
            named = [self.by_addr[a] for a in resolved.candidates if a in self.by_addr]
            return named or self._candidates(kind)
        server = self.by_addr.get(resolved)
        if server is None and str(resolved) in self.invalid_servers:
            return f"refers to {resolved}, which is invalid in this plan (see its input error); not evaluated"
        return server or f"refers to {resolved}, which this plan does not create or keep; not evaluated"

    def _or_invalid(self) -> str:
        """For a child whose server is not found: the plan's invalid servers may be it."""
        if not self.invalid_servers:
            return ""
        return f" (or it is {', '.join(sorted(self.invalid_servers))}, invalid in this plan)"

    def _candidates(self, kind: mapping.ChildKind) -> list[_Server]:
        """The servers a child of ``kind`` may belong to (all are built before any child)."""
        found = self.by_parents.get(kind.parents)
        if found is None:
            found = [s for s in self.servers if s.inst.addr.type in kind.parents]
            self.by_parents[kind.parents] = found
        return found

    def _child(self, inst: Instance, kind: mapping.ChildKind) -> None:
        child: dict[str, Any] = {"type": kind.child_type}
        try:
            self._apply(inst, kind.fields, inst.values, child)
            why = None
        except InputError as exc:
            why = self.invalid(inst, exc)
        parent = self._find_parent(inst, kind)
        if isinstance(parent, str):
            self.note(inst, parent)
            return
        name = mapping.read(inst.values, ("name",))
        if why is not None:
            # Its value is not what Azure would be sent: unknown on its server, not a default.
            if isinstance(parent, _Server) and isinstance(name, str):
                parent.children.declare(child_key(kind.child_type, name), {
                    "name": name, "type": kind.child_type,
                    "properties": {"value": Unknown(f"{inst.address}.value", why)}}, inst.address)
            else:
                self.uncertain.append(_Uncertain(inst.address, name, kind,
                                                 parent if isinstance(parent, list) else [parent], why))
            return
        if isinstance(parent, list):
            why = f"{inst.address} may set it: which server it configures cannot be told before apply"
            self.uncertain.append(_Uncertain(inst.address, name, kind, parent, why))
            return
        name = child.get("name")
        if not isinstance(name, str):
            self.note(inst, "its name is not known before apply; every parameter with a platform default "
                            "is unknown on its server")
            why = f"{inst.address} sets a parameter of this server whose name is not known before apply"
            self.uncertain.append(_Uncertain(inst.address, name, kind, [parent], why))
            return
        known = inst.values.get("id")
        child["id"] = known if isinstance(known, str) else f"{parent.id}/{_last_type(kind.child_type)}/{name}"
        parent.children.declare(child_key(kind.child_type, name), child, inst.address)

    def _settle(self, uncertain: _Uncertain) -> None:
        kind, name = uncertain.kind, uncertain.name
        spec = catalog().get(kind.child_type)
        names = [name] if isinstance(name, str) else sorted(spec.defaults) if spec is not None else []
        value = Unknown(f"{uncertain.address}.value", uncertain.reason)
        for server in uncertain.servers:
            for pname in names:
                child = {"name": pname, "type": kind.child_type, "properties": {"value": value}}
                server.children.assume(child_key(kind.child_type, pname), child)

    def _threat_protection(self, inst: Instance) -> None:
        """azurerm_advanced_threat_protection writes the Microsoft.Security extension setting
        ``{target}/providers/Microsoft.Security/advancedThreatProtectionSettings/current`` (the
        provider's resource code), not the PostgreSQL resource provider's own setting that the
        rules and Azure Policy read, and the azurerm docs list no PostgreSQL target for it. On
        a server of this plan it makes that setting unknown rather than letting the platform
        default speak: the plan does say something about the server's threat protection."""
        target = inst.values.get("target_resource_id")
        servers: list[_Server] = []
        if isinstance(target, str):
            found = self._by_id(target)
            if found is not None:
                servers = [found]
            elif (type_from_id(target) or "").lower() in _SERVER_ARM_TYPES:
                self.note(inst, f"protects {target}, a server not in this plan; not evaluated")
                return
        else:
            resolved = self.config.resolve(inst.addr, "target_resource_id", frozenset(mapping.SERVERS))
            if isinstance(resolved, ResourceAddr) and resolved in self.by_addr:
                servers = [self.by_addr[resolved]]
            elif isinstance(resolved, Unresolved) and resolved.candidates:
                self.note(inst, f"which server it protects cannot be told: {resolved.reason}")
                servers = [self.by_addr[a] for a in resolved.candidates if a in self.by_addr]
        if not servers:
            self.ignored[inst.addr.type] += 1  # another kind of resource (a storage account, ...)
            return
        reason = f"set through {mapping.THREAT_PROTECTION_TYPE}, which is not the setting this rule reads"
        for server in servers:
            ctype, cname = server.kind.threat_setting
            added = server.children.assume(child_key(ctype, cname), {
                "name": cname, "type": ctype,
                "properties": {"state": Unknown(f"{inst.address}.enabled", reason)}})
            if len(servers) == 1:
                outcome = ("that setting is evaluated as unknown" if added
                           else "the server declares its own setting too, which is what is evaluated")
                setting = f"{ctype.split('/', 1)[1]}/{cname}"
                self.note(inst, _THREAT_NOTE.format(setting=setting, outcome=outcome))

    # -- pricings ---------------------------------------------------------------------------
    def _pricing(self, inst: Instance) -> None:
        sub, child = self._in_subscription(inst, mapping.PRICINGS)
        try:
            self._apply(inst, mapping.PRICING, inst.values, child)
        except InputError as exc:
            why = self.invalid(inst, exc)
            name = inst.values.get("resource_type")
            if isinstance(name, str) and name:
                sub.children.declare(child_key(mapping.PRICINGS, name), {
                    "name": name, "type": mapping.PRICINGS,
                    "properties": {"pricingTier": Unknown(f"{inst.address}.tier", why)}}, inst.address)
            else:
                sub.unread.setdefault(mapping.PRICINGS.lower(), why)
            return
        if inst.removed:
            # "Deletion of this resource will reset the pricing tier to Free" (azurerm docs).
            child["properties"] = {"pricingTier": "Free"}
            self.note(inst, "the plan deletes it, which resets the tier to Free; evaluated as Free")
        name = child.get("name")
        if not isinstance(name, str):
            why = name.reason if isinstance(name, Unknown) else KNOWN_AFTER_APPLY
            sub.unread[mapping.PRICINGS.lower()] = (
                f"{inst.address} declares a Defender pricing whose resource_type is {why}")
            self.note(inst, "its resource_type is not known before apply; "
                            "its subscription's pricings are unknown")
            return
        self._declare(sub, inst, name, child)

    # -- security contacts ------------------------------------------------------------------
    def _contact(self, inst: Instance) -> None:
        """A security contact of the subscription, in the 2017-08-01-preview shape the provider
        sends (see policyengine/sources/terraform/mapping.py)."""
        sub, child = self._in_subscription(inst, mapping.CONTACTS)
        try:
            self._apply(inst, mapping.CONTACT, inst.values, child)
        except InputError as exc:
            sub.unread.setdefault(mapping.CONTACTS.lower(), self.invalid(inst, exc))
            return
        name = child.setdefault("name", mapping.CONTACT_NAME)
        if not isinstance(name, str):
            why = name.reason if isinstance(name, Unknown) else KNOWN_AFTER_APPLY
            sub.unread[mapping.CONTACTS.lower()] = f"{inst.address} declares a security contact named {why}"
            return
        self._declare(sub, inst, name, child)

    # -- subscription-scope resources -------------------------------------------------------
    def _in_subscription(self, inst: Instance, arm_type: str) -> tuple[Subscription, dict[str, Any]]:
        """The subscription ``inst`` lands in (its first line is where the record points) and
        the child of ``arm_type`` to fill."""
        sub = self.subscriptions.of(inst)
        sub.line = sub.line or inst.line
        return sub, {"type": arm_type}

    @staticmethod
    def _declare(sub: Subscription, inst: Instance, name: str, child: dict[str, Any]) -> None:
        known = inst.values.get("id")
        arm_type = str(child["type"])
        child["id"] = known if isinstance(known, str) else f"{sub.resource_id}/providers/{arm_type}/{name}"
        sub.children.declare(child_key(arm_type, name), child, inst.address)


_SERVER_ARM_TYPES = frozenset(kind.arm_type.lower() for kind in mapping.SERVERS.values())


def _role(inst: Instance) -> str | None:
    """What a plan instance is to the records; None: not mapped (data sources included)."""
    tf_type = inst.addr.type
    if inst.addr.mode != "managed":
        return None
    if tf_type in mapping.SERVERS:
        return "server"
    if tf_type in mapping.CHILDREN:
        return "child"
    return {mapping.PRICING_TYPE: "pricing", mapping.THREAT_PROTECTION_TYPE: "threat",
            mapping.CONTACT_TYPE: "contact"}.get(tf_type)


def _last_type(arm_type: str) -> str:
    return arm_type.rsplit("/", 1)[1]


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def _after_subscription(rid: str) -> str:
    parts = rid.split("/", 3)
    return parts[3].lower() if len(parts) == 4 and parts[1].lower() == "subscriptions" else rid.lower()
