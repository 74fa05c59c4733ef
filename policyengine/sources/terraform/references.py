"""Follow a plan's configuration to learn what a value known only after apply will be: which
server a parameter's ``server_id`` names, which provider configuration (and so which
subscription) a resource is created with.

The configuration section keeps each expression's references
(https://developer.hashicorp.com/terraform/internals/json-format#configuration-representation):
``server_id = azurerm_postgresql_flexible_server.main.id`` is kept as
``["azurerm_postgresql_flexible_server.main.id", "azurerm_postgresql_flexible_server.main"]``.
A reference is relative to the module instance the expression sits in; it is followed through
module outputs (``module.db.server_id`` -> the child module's output expression) and input
variables (``var.server_id`` -> the argument the calling module passes).

``count``/``for_each``: a reference with a literal key (``main[0]``, ``main["prod"]``) names
that instance. Terraform drops a key that is an expression (``main[each.key]`` is kept as
``main`` and ``each.key``), so a reference without a key to a resource with several instances
names *the instance with the referring instance's own key* only when the expression indexes
by it: it also refers to ``each.key`` or ``count.index``, or it reads ``each.value`` of a
``for_each`` over that very resource (``for_each = azurerm_x.main``, ``each.value.id``), which
is the same thing. Any other unkeyed reference to a multi-instance resource (an index
computed from ``each.value``, a ``local``) cannot be told apart statically and is reported,
never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policyengine.sources.terraform.addresses import (
    Key,
    ModulePath,
    Reference,
    ResourceAddr,
    Step,
    parse_reference,
)

MAX_DEPTH = 16
_SAME_KEY = frozenset({"each.key", "count.index"})


@dataclass(frozen=True)
class Unresolved:
    """Why a reference could not be followed to one resource instance, and the instances it
    may stand for when it does lead to resources of the wanted types."""

    reason: str
    candidates: tuple[ResourceAddr, ...] = ()


Resolution = ResourceAddr | Unresolved


def _refs(expression: Any) -> list[str]:
    if not isinstance(expression, dict):
        return []
    refs = expression.get("references")
    return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Configuration:
    """The plan's ``configuration`` section, indexed, and the plan's instance keys."""

    def __init__(self, configuration: Mapping[str, Any], variables: Mapping[str, Any],
                 instances: Mapping[tuple[ModulePath, str], set[Key]]) -> None:
        self.root = _dict(configuration.get("root_module"))
        self.providers = _dict(configuration.get("provider_config"))
        self.variables = variables
        self.present = bool(configuration)
        #: By (module instance path, ``type.name``): the keys of its instances in the plan.
        self.instances = instances
        self._resources: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}

    # -- the configuration tree ---------------------------------------------------------
    def module(self, calls: tuple[str, ...]) -> dict[str, Any] | None:
        node = self.root
        for name in calls:
            call = self.call(node, name)
            if call is None:
                return None
            node = _dict(call.get("module"))
        return node

    @staticmethod
    def call(module: Mapping[str, Any], name: str) -> dict[str, Any] | None:
        call = _dict(module.get("module_calls")).get(name)
        return call if isinstance(call, dict) else None

    def resource(self, addr: ResourceAddr) -> dict[str, Any] | None:
        """The configuration of ``addr``'s resource block (indexed per module on first use)."""
        by_address = self._resources.get(addr.calls)
        if by_address is None:
            module = self.module(addr.calls)
            resources = module.get("resources") if module is not None else None
            by_address = self._resources[addr.calls] = {
                res["address"]: res for res in (resources if isinstance(resources, list) else [])
                if isinstance(res, dict) and isinstance(res.get("address"), str)}
        return by_address.get(addr.local)

    # -- providers ----------------------------------------------------------------------
    def provider_key(self, addr: ResourceAddr, provider_name: str) -> str:
        """The provider configuration ``addr`` is created with (its key in
        ``provider_config``). Terraform points a module's resources at the configuration
        they inherit; older versions wrote ``<module>:<provider>`` keys that the map lacks,
        which are walked up the module tree as Terraform's implicit inheritance does."""
        res = self.resource(addr)
        key = res.get("provider_config_key") if res is not None else None
        if not isinstance(key, str) or not key:
            return provider_name or "provider"
        while key not in self.providers and ":" in key:
            prefix, provider = key.rsplit(":", 1)
            parent = prefix.rsplit(".module.", 1)[0] if ".module." in prefix else ""
            key = f"{parent}:{provider}" if parent else provider
        return key

    def provider_label(self, key: str) -> str:
        """How Terraform shows a provider configuration: ``provider["registry.../azurerm"].alias``."""
        pc = _dict(self.providers.get(key))
        name = pc.get("full_name") or pc.get("name")
        if not isinstance(name, str):  # no configuration: ``key`` is the provider's source address
            return f'provider["{key}"]' if "/" in key else key
        label = f'provider["{name}"]' + (f".{pc['alias']}" if isinstance(pc.get("alias"), str) else "")
        module = pc.get("module_address")
        return f"{module}.{label}" if isinstance(module, str) and module else label

    def subscription(self, key: str) -> str | None:
        """The subscription a provider configuration sets, if the plan shows it: a literal
        ``subscription_id`` or a root module variable that is not sensitive."""
        pc = _dict(self.providers.get(key))
        expr = _dict(_dict(pc.get("expressions")).get("subscription_id"))
        if isinstance(expr.get("constant_value"), str):
            return str(expr["constant_value"])
        if pc.get("module_address"):
            return None
        for ref in map(parse_reference, _refs(expr)):
            declared = _dict(_dict(self.root.get("variables")).get(ref.name))
            value = _dict(self.variables.get(ref.name)).get("value")
            if ref.kind == "var" and not declared.get("sensitive") and isinstance(value, str) and value:
                return value
        return None

    # -- references ---------------------------------------------------------------------
    def resolve(self, addr: ResourceAddr, attribute: str, targets: frozenset[str]) -> Resolution:
        """The instance of a ``targets`` type that ``addr``'s ``attribute`` refers to."""
        if not self.present:
            return Unresolved("the plan has no configuration section to follow its references in")
        res = self.resource(addr)
        if res is None:
            return Unresolved(f"{addr.local} is not in the plan's configuration")
        expr = _dict(res.get("expressions")).get(attribute)
        return self._follow(_refs(expr), _Scope(addr.module, addr.key, _iteration(res)), targets, 0)

    def _follow(self, refs: list[str], scope: _Scope, targets: frozenset[str], depth: int) -> Resolution:
        if depth > MAX_DEPTH:
            return Unresolved("its references go through too many modules to follow")
        parsed = [parse_reference(r) for r in refs]
        same_key = any(r in _SAME_KEY for r in refs)
        reads_each_value = any(r == "each.value" or r.startswith("each.value.") for r in refs)
        named = {(r.type, r.name) for r in parsed if r.kind == "resource" and r.type in targets}
        if len(named) > 1:
            shown = ", ".join(sorted(f"{t}.{n}" for t, n in named))
            bases = [ResourceAddr(scope.module, t, n) for t, n in sorted(named)]
            return Unresolved(f"it refers to several servers: {shown}",
                              tuple(a for b in bases for a in self._instances(b)))
        if named:
            ((rtype, rname),) = named
            base = ResourceAddr(scope.module, rtype, rname)
            keys = {r.key for r in parsed
                    if r.keyed and r.kind == "resource" and (r.type, r.name) == (rtype, rname)}
            if len(keys) == 1:
                return base.with_key(keys.pop())
            return self._pick(base, scope.key, same_key or (reads_each_value and base.local in scope.over))
        if reads_each_value:
            iterated = {(r.type, r.name) for r in map(parse_reference, scope.over)
                        if r.kind == "resource" and r.type in targets and not r.keyed}
            if len(iterated) == 1:
                ((rtype, rname),) = iterated
                return self._pick(ResourceAddr(scope.module, rtype, rname), scope.key, True)
        calls = {r.name for r in parsed if r.kind == "module"}
        if len(calls) == 1:
            name = calls.pop()
            mods = [r for r in parsed if r.kind == "module" and r.name == name]
            return self._through_module(mods, scope, same_key, targets, depth)
        variables = {r.name for r in parsed if r.kind == "var"}
        if len(variables) == 1 and scope.module:
            return self._through_variable(variables.pop(), scope.module, targets, depth)
        shown = ", ".join(refs) if refs else "no reference this reader can follow"
        return Unresolved(f"it comes from {shown}")

    def _pick(self, base: ResourceAddr, own_key: Key, same_key: bool) -> Resolution:
        keys = self.instances.get((base.module, base.local), set())
        if not keys or keys == {None}:
            return base  # none: a server outside this plan, which the caller reports
        if same_key and own_key in keys:
            return base.with_key(own_key)
        return Unresolved(f"it refers to {base}, which has {len(keys)} instances, and which one "
                          "cannot be told from the configuration", self._instances(base))

    def _instances(self, base: ResourceAddr) -> tuple[ResourceAddr, ...]:
        keys = self.instances.get((base.module, base.local), set())
        order = sorted(keys, key=lambda k: (isinstance(k, str), k if isinstance(k, int) else 0, str(k)))
        return tuple(base.with_key(k) for k in order)

    def _through_module(self, mods: list[Reference], scope: _Scope, same_key: bool,
                        targets: frozenset[str], depth: int) -> Resolution:
        name = mods[0].name
        parent = self.module(tuple(s.name for s in scope.module))
        call = self.call(parent, name) if parent is not None else None
        if call is None:
            return Unresolved(f"module.{name} is not in the plan's configuration")
        keys = {r.key for r in mods if r.keyed}
        if len(keys) == 1:
            key: Key = keys.pop()
        elif "count_expression" not in call and "for_each_expression" not in call:
            key = None
        elif same_key:
            key = scope.key
        else:
            return Unresolved(f"it refers to module.{name}, which has several instances, and which "
                              "one cannot be told from the configuration")
        outputs = _dict(_dict(call.get("module")).get("outputs"))
        # Terraform drops the output name after a computed module key (module.db[each.key].x):
        # then every output of the module is a candidate, and they must agree.
        names = sorted({r.output for r in mods if r.output} or set(outputs))
        inner = _Scope((*scope.module, Step(name, key)), None, ())
        found = {self._follow(_refs(_dict(outputs.get(out)).get("expression")), inner, targets, depth + 1)
                 for out in names}
        addrs = {f for f in found if isinstance(f, ResourceAddr)}
        if len(addrs) == 1:
            return addrs.pop()
        if len(names) == 1 and found:
            return found.pop()
        return Unresolved(f"it refers to module.{name}, whose outputs do not name one server")

    def _through_variable(self, name: str, module: ModulePath, targets: frozenset[str],
                          depth: int) -> Resolution:
        parent, step = module[:-1], module[-1]
        container = self.module(tuple(s.name for s in parent))
        call = self.call(container, step.name) if container is not None else None
        if call is None:
            return Unresolved(f"{step} is not in the plan's configuration")
        expr = _dict(call.get("expressions")).get(name)
        # In a module call's arguments, each.key and count.index are the module instance's.
        return self._follow(_refs(expr), _Scope(parent, step.key, _iteration(call)), targets, depth + 1)


@dataclass(frozen=True)
class _Scope:
    """Where an expression is evaluated: its module instance, the instance key that
    ``each.key``/``count.index`` stand for there, and what its ``for_each``/``count`` reads."""

    module: ModulePath
    key: Key
    over: tuple[str, ...]


def _iteration(block: Mapping[str, Any]) -> tuple[str, ...]:
    """What a resource or module call iterates over (its ``for_each``/``count`` references)."""
    return (*_refs(block.get("for_each_expression")), *_refs(block.get("count_expression")))
