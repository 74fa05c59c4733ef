"""Terraform addresses and references, parsed into values that compare reliably.

A plan names resource instances by absolute address (``module.db["prod"].azurerm_x.main[0]``)
and the configuration names what an expression reads by reference (``azurerm_x.main[0].id``,
``module.db.server_id``, ``var.server_id``, ``each.key``). The format asks callers to treat
both as opaque strings, but joining a server parameter to its server across modules and
``count``/``for_each`` instances needs their parts, so they are parsed here in the syntax
Terraform prints them in: attribute steps ``.name`` and index steps ``[0]``/``["key"]``
(Go's ``%q`` quoting, which JSON's string syntax reads for any key an Azure name can hold).
https://developer.hashicorp.com/terraform/internals/json-format#expression-representation
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

Key = int | str | None
"""An instance key: a ``count`` index, a ``for_each`` key, or None for a single instance."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r'\[(?:(\d+)|("(?:[^"\\]|\\.)*"))\]')

#: Reference roots that are not managed resources:
#: https://developer.hashicorp.com/terraform/language/expressions/references
_NOT_RESOURCES = frozenset({"var", "local", "each", "count", "path", "terraform", "self", "module", "data"})


def key_text(key: Key) -> str:
    """An instance key as Terraform prints it: ``[0]``, ``["prod"]``, or nothing."""
    if key is None:
        return ""
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key, ensure_ascii=False)}]"


@dataclass(frozen=True)
class Step:
    """One module call instance on a module path: ``module.<name><key>``."""

    name: str
    key: Key = None

    def __str__(self) -> str:
        return f"module.{self.name}{key_text(self.key)}"


ModulePath = tuple[Step, ...]


def module_text(path: ModulePath) -> str:
    return ".".join(str(step) for step in path)


@dataclass(frozen=True)
class ResourceAddr:
    """An absolute resource instance address."""

    module: ModulePath
    type: str
    name: str
    key: Key = None
    mode: str = "managed"

    @property
    def calls(self) -> tuple[str, ...]:
        """The module call names leading to it: where it sits in the configuration."""
        return tuple(step.name for step in self.module)

    @property
    def local(self) -> str:
        """``type.name`` (``data.type.name``), as the configuration lists resources."""
        return ("data." if self.mode == "data" else "") + f"{self.type}.{self.name}"

    def with_key(self, key: Key) -> ResourceAddr:
        return ResourceAddr(self.module, self.type, self.name, key, self.mode)

    def __str__(self) -> str:
        own = self.local + key_text(self.key)
        return f"{module_text(self.module)}.{own}" if self.module else own


Traversal = list[tuple[str, Key]]
"""Parsed steps: ``("attr", name)`` or ``("index", key)``."""


def _traversal(text: str) -> Traversal | None:
    """``a.b[0].c["k"]`` -> its steps; None if ``text`` is not in that syntax."""
    out: Traversal = []
    pos = 0
    while pos < len(text):
        if out and text[pos] == "[":
            key, end = _index_at(text, pos)
            if end == pos:
                return None
            out.append(("index", key))
            pos = end
            continue
        if out:
            if text[pos] != ".":
                return None
            pos += 1
        m = _NAME.match(text, pos)
        if m is None:
            return None
        out.append(("attr", m.group()))
        pos = m.end()
    return out or None


def _index_at(text: str, pos: int) -> tuple[Key, int]:
    """The index step at ``pos`` and where it ends (``pos`` itself if there is none)."""
    m = _INDEX.match(text, pos)
    if m is None:
        return None, pos
    key: Key = int(m.group(1)) if m.group(1) is not None else json.loads(m.group(2))
    return key, m.end()


def parse_address(text: str) -> ResourceAddr | None:
    """An absolute resource instance address, or None if ``text`` is not one."""
    steps = _traversal(text)
    if steps is None:
        return None
    module: list[Step] = []
    at = 0
    while at + 1 < len(steps) and steps[at] == ("attr", "module") and steps[at + 1][0] == "attr":
        key, nxt = _optional_key(steps, at + 2)
        module.append(Step(str(steps[at + 1][1]), key))
        at = nxt
    mode = "managed"
    if at < len(steps) and steps[at] == ("attr", "data"):
        mode, at = "data", at + 1
    if at + 2 > len(steps) or steps[at][0] != "attr" or steps[at + 1][0] != "attr":
        return None
    key, end = _optional_key(steps, at + 2)
    if end != len(steps):
        return None
    return ResourceAddr(tuple(module), str(steps[at][1]), str(steps[at + 1][1]), key, mode)




def _optional_key(steps: Traversal, at: int) -> tuple[Key, int]:
    if at < len(steps) and steps[at][0] == "index":
        return steps[at][1], at + 1
    return None, at


@dataclass(frozen=True)
class Reference:
    """One entry of an expression's ``references``, classified.

    ``kind`` is ``resource`` (a managed resource: ``type``, ``name``, and ``key`` when
    ``keyed``), ``module`` (a module call: ``name``, ``key``/``keyed``, and the ``output``
    read, if any), ``var`` (``name``), or ``other`` (``each.key``, ``local.x``, data sources).
    """

    kind: str
    text: str
    type: str = ""
    name: str = ""
    key: Key = None
    keyed: bool = False
    output: str | None = None


def parse_reference(text: str) -> Reference:
    """Classify one entry of an expression's ``references`` list."""
    steps = _traversal(text)
    if steps is None or len(steps) < 2 or steps[1][0] != "attr":
        return Reference("other", text)
    root, second = str(steps[0][1]), str(steps[1][1])
    keyed = len(steps) > 2 and steps[2][0] == "index"
    key = steps[2][1] if keyed else None
    rest = steps[3:] if keyed else steps[2:]
    if root == "var":
        return Reference("var", text, name=second)
    if root == "module":
        output = str(rest[0][1]) if rest and rest[0][0] == "attr" else None
        return Reference("module", text, name=second, key=key, keyed=keyed, output=output)
    if root in _NOT_RESOURCES:
        return Reference("other", text)
    return Reference("resource", text, type=root, name=second, key=key, keyed=keyed)
