"""Safe YAML loading that keeps the source position of every node.

PyYAML composes a node graph (with marks) and we construct plain Python data from it
ourselves, so that:

* every value and every mapping key gets a :class:`Span`, kept in a :class:`Positions`
  table keyed by the JSON path of the value (the same path jsonschema reports);
* duplicate keys are an error (PyYAML silently keeps the last one);
* only the core tags are accepted: an explicit tag such as ``!!python/object`` is an error;
* alias expansion is bounded, so a "billion laughs" document fails fast instead of
  exhausting memory;
* scalars follow the YAML 1.2 core schema: ``on``, ``off``, ``yes`` and ``no`` stay strings.
  This matters here: ``require_secure_transport`` takes the values ``on`` and ``off``, and a
  YAML 1.1 loader would turn ``equals: on`` into a boolean;
* numbers are what JSON can hold: ``.nan``, ``.inf`` and a float that overflows to infinity
  are errors (every report is JSON, or rendered from it, and JSON has no NaN or Infinity;
  a rule comparing with NaN would be false whatever the value), and so is an integer of more
  than 4,300 digits (the bound Python puts on reading one);
* whatever the text holds (control characters, a lone surrogate, nesting deeper than the
  parser's stack), the error is a located :class:`RuleLoadError`, never another exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
import yaml.cyaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from policyengine.errors import RuleLoadError, Span

JsonPath = tuple[str | int, ...]

#: How many nodes one document may expand to, and how deep it may nest. Rule files are a few
#: hundred nodes; the bounds only exist to stop alias bombs and self-referencing anchors.
MAX_NODES = 100_000
MAX_DEPTH = 100
#: The most digits an integer may have: Python's own default bound on reading one
#: (``sys.get_int_max_str_digits``), kept whatever the interpreter is set to.
MAX_INT_DIGITS = 4300
#: The largest rule, waiver, configuration or catalog file read. The bundled rules and catalog
#: are a few kilobytes each.
MAX_FILE_BYTES = 16 << 20

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema resolution (https://yaml.org/spec/1.2.2/#1032-tag-resolution)."""


_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _PyLoader(Reader, Scanner, Parser, Composer, _CoreResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


if yaml.__with_libyaml__:
    # libyaml scans and composes in C (ten times faster than the pure-Python scanner), with
    # the same marks, the same errors and our resolver.
    class _CLoader(yaml.cyaml.CParser, _CoreResolver):  # type: ignore[misc,name-defined]
        def __init__(self, stream: str) -> None:
            yaml.cyaml.CParser.__init__(self, stream)  # type: ignore[attr-defined]
            _CoreResolver.__init__(self)

    _Loader: type = _CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


@dataclass
class Positions:
    """Where each value (and each mapping key) of one YAML document stands in its file."""

    file: str
    values: dict[JsonPath, Span] = field(default_factory=dict)
    keys: dict[JsonPath, Span] = field(default_factory=dict)

    def of(self, path: JsonPath, *, key: bool = False) -> Span:
        """The span of the value at ``path`` (or of its key), or of its nearest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Span(self.file, 1, 1))


@dataclass
class Document:
    """One YAML document: its data, the positions of its nodes, and where it starts."""

    data: Any
    positions: Positions
    span: Span


def shown(text: str, limit: int = 60) -> str:
    """A user's text quoted in a message: control characters and lone surrogates escaped (as
    ``repr`` does), and a long text cut, so that a message never carries terminal escapes or
    a 100,000-character value."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _span(file: str, node: yaml.Node) -> Span:
    mark = node.start_mark
    return Span(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = Positions(file)
        self.count = 0
        self.active: list[yaml.Node] = []
        self.scalars = SafeConstructor()

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise RuleLoadError(
                f"document expands to more than {MAX_NODES} nodes (alias expansion is bounded)",
                _span(self.file, node),
            )
        self.positions.values[path] = _span(self.file, node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if any(node is open_node for open_node in self.active):
            raise RuleLoadError("an alias refers to a node that contains it (alias expansion is bounded)",
                                _span(self.file, node))
        if len(self.active) >= MAX_DEPTH:
            raise RuleLoadError(f"nested more than {MAX_DEPTH} levels deep", _span(self.file, node))
        self.active.append(node)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if node.tag != _SEQ:
                raise self._bad_tag(node)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.pop()

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        if node.tag != _MAP:
            raise self._bad_tag(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise RuleLoadError(
                    "mapping keys must be strings", _span(self.file, key_node)
                )
            if key in out:
                first = self.positions.keys[(*path, key)]
                raise RuleLoadError(
                    f"duplicate key {shown(key)} (first defined at line {first.line})",
                    _span(self.file, key_node),
                )
            self.positions.keys[(*path, key)] = _span(self.file, key_node)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR:
            return str(node.value)
        if node.tag == _NULL:
            return None
        if node.tag == _BOOL:
            return str(node.value).lower() == "true"
        if node.tag == _INT:
            text = str(node.value)
            based = text[:2] in ("0o", "0x")
            digits = len(text) - 2 if based else len(text.lstrip("+-"))
            if digits > MAX_INT_DIGITS:
                raise RuleLoadError(f"an integer of {digits} digits: at most {MAX_INT_DIGITS} are read",
                                    _span(self.file, node))
            return int(text, 0) if based else int(text, 10)
        if node.tag == _FLOAT and isinstance(node, yaml.ScalarNode):
            number: float = self.scalars.construct_yaml_float(node)
            if not math.isfinite(number):
                what = "NaN" if math.isnan(number) else f"{shown(str(node.value))} (infinite)"
                raise RuleLoadError(f"{what} is not a number JSON can hold; write a finite number",
                                    _span(self.file, node))
            return number
        raise self._bad_tag(node)

    def _bad_tag(self, node: yaml.Node) -> RuleLoadError:
        return RuleLoadError(
            f"tag '{node.tag}' is not allowed (only plain YAML data is accepted)",
            _span(self.file, node),
        )


def _offset_span(text: str, file: str, offset: int, *, in_bytes: bool) -> Span:
    """The line and column of a character offset in ``text`` (of a UTF-8 byte offset if
    ``in_bytes``: libyaml counts bytes)."""
    if in_bytes:
        encoded = text.encode("utf-8", "surrogatepass")
        offset = len(encoded[:offset].decode("utf-8", "ignore"))
    before = text[:offset]
    return Span(file, before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


def read_text(path: Path, file: str, what: str) -> str:
    """The text of a user's YAML file; :class:`RuleLoadError` (``file`` shown) if it cannot be
    read (missing, a directory), is larger than :data:`MAX_FILE_BYTES` (``/dev/zero`` given as
    a rule file ends there) or is not UTF-8, located at the first byte that is not."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RuleLoadError(f"cannot read the {what}: {exc.strerror or exc}", Span(file)) from None
    if len(data) > MAX_FILE_BYTES:
        raise RuleLoadError(f"the {what} is larger than {MAX_FILE_BYTES >> 20} MiB", Span(file))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        span = Span(file, data.count(b"\n", 0, exc.start) + 1, col)
        raise RuleLoadError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded ({exc.reason})",
                            span) from None


def load_documents(text: str, file: str) -> Iterator[Document]:
    """Yield every document of a YAML stream (``---`` separated), positions kept."""
    loader: Any = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there was one
                break
            builder = _Builder(file)
            data = builder.build(node, ())
            yield Document(data, builder.positions, _span(file, node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(file, mark.line + 1, mark.column + 1) if mark else Span(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleLoadError(f"invalid YAML: {problem}", span) from None
    except UnicodeEncodeError as exc:  # libyaml reads UTF-8, which has no lone surrogates
        raise RuleLoadError("invalid YAML: a lone surrogate is not a character",
                            _offset_span(text, file, exc.start, in_bytes=False)) from None
    except yaml.reader.ReaderError as exc:
        # Not a marked error: it has an offset, in bytes when libyaml read the text.
        span = _offset_span(text, file, exc.position, in_bytes=_Loader is not _PyLoader)
        raise RuleLoadError(f"invalid YAML: character {chr(exc.character)!r} (U+{exc.character:04X})"
                            f": {exc.reason}", span) from None
    except yaml.YAMLError as exc:
        raise RuleLoadError(f"invalid YAML: {exc}", Span(file)) from None
    except RecursionError:
        # The pure-Python composer recurses once per level (libyaml stops at 1,000 itself).
        raise RuleLoadError("invalid YAML: nested too deeply to read", Span(file, 1, 1)) from None
    finally:
        if loader is not None:
            loader.dispose()
