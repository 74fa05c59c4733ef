"""Validate rule documents against ``schemas/rule.schema.json`` and turn jsonschema's errors
into located, readable :class:`RuleLoadError` values naming the offending key."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine.errors import RuleLoadError, Span
from policyengine.operators import OPERATORS

if TYPE_CHECKING:
    import jsonschema

    from policyengine.loading.yaml_nodes import Document, JsonPath

# jsonschema and YAML (loading.yaml_nodes) are imported where they are used: this module is
# imported for ``dotted`` by every loader, and a scan whose rules come from the compiled cache
# (loading/cache.py) parses and validates nothing.


def load_schema(name: str) -> dict[str, Any]:
    """A bundled JSON Schema by file name (``rule.schema.json``, ``report.schema.json``)."""
    text = (resources.files("policyengine") / "data" / "schemas" / name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.lru_cache(maxsize=4)
def _validator(name: str) -> jsonschema.Draft202012Validator:
    # Imported on first validation only (~65 ms): a scan whose rules come from the compiled
    # cache (loading/cache.py) validates nothing.
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(name), format_checker=jsonschema.FormatChecker())


def dotted(path: JsonPath) -> str:
    """``('spec', 'condition', 'allOf', 0)`` -> ``spec.condition.allOf[0]``."""
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else seg)
    return out or "(document)"


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    return f" (did you mean '{close[0]}'?)" if close else ""


def _allowed_keys(error: jsonschema.ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return list(props)


def _is_condition(error: jsonschema.ValidationError) -> bool:
    return isinstance(error.schema, dict) and "field" in error.schema.get("properties", {})


def _located(doc: Document, error: jsonschema.ValidationError) -> list[RuleLoadError]:
    from policyengine.loading.yaml_nodes import shown

    path: JsonPath = tuple(error.absolute_path)
    where = dotted(path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = _allowed_keys(error)
        out = []
        for key in instance:
            if key in allowed:
                continue
            if _is_condition(error):
                ops = [o for o in allowed if o in OPERATORS]
                text = f"{where}: unknown operator {shown(key)}{_did_you_mean(key, ops)}"
            else:
                text = f"{where}: unknown key {shown(key)}{_did_you_mean(key, allowed)}"
            out.append(RuleLoadError(text, doc.positions.of((*path, key), key=True)))
        return out
    if error.validator == "oneOf" and isinstance(instance, dict):
        choices = [s["required"][0] for s in list(error.validator_value)]  # type: ignore[arg-type]
        present = [k for k in instance if k in choices]
        # The same shape serves conditions (one operator each) and other one-of-these keys.
        noun, per = ("operator", "per condition") if all(c in OPERATORS for c in choices) else ("key", "only")
        if not present:
            text = f"{where}: no {noun}; use one of: {', '.join(choices)}"
        else:
            text = f"{where}: more than one {noun} ({', '.join(present)}); use one {per}"
        return [RuleLoadError(text, doc.positions.of(path))]
    if error.validator == "required" and isinstance(instance, dict):
        missing = [k for k in list(error.validator_value) if k not in instance]  # type: ignore[arg-type]
        # jsonschema reports each missing key as its own error ("'kind' is a required property"):
        # name the one this error is about, not the first of them every time.
        key = next((k for k in missing if error.message.startswith(repr(k))), missing[0] if missing else "?")
        text = f"{where}: missing required key '{key}'"
        return [RuleLoadError(text, doc.positions.of(path))]
    return [RuleLoadError(f"{where}: {error.message}", doc.positions.of(path))]


def validate(doc: Document, schema: str = "rule.schema.json") -> list[RuleLoadError]:
    """Every error of one document against a bundled schema, located and sorted by position."""
    errors: list[RuleLoadError] = []
    seen_unknown_keys: set[JsonPath] = set()
    raw = sorted(_validator(schema).iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path)))
    for error in raw:
        if error.validator == "additionalProperties":
            seen_unknown_keys.add(tuple(error.absolute_path))
    for error in raw:
        # An unknown operator also leaves the condition with no valid operator; say it once.
        if error.validator == "oneOf" and tuple(error.absolute_path) in seen_unknown_keys:
            continue
        errors.extend(_located(doc, error))
    errors.sort(key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0))
    return errors


def valid_documents(paths: Iterable[Path], schema: str, what: str, items: str,
                    errors: list[RuleLoadError]) -> Iterator[Document]:
    """The documents of the YAML files ``paths`` that are valid against ``schema``; every
    problem (unreadable, not YAML, empty, invalid) is appended to ``errors``, located, and the
    other documents still come. ``what`` names the kind of file ("waiver file"), ``items`` what
    it holds ("waivers")."""
    from policyengine.loading.yaml_nodes import load_documents, read_text

    for path in paths:
        try:
            documents = list(load_documents(read_text(path, str(path), what), str(path)))
        except RuleLoadError as exc:
            errors.append(exc)
            continue
        if not documents:
            # Likely a file cut short: said, rather than read as "nothing to do".
            errors.append(RuleLoadError(f"the {what} holds no {items} (it is empty or only comments)",
                                        Span(str(path), 1, 1)))
        for doc in documents:
            problems = validate(doc, schema)
            if problems:
                errors.extend(problems)
            else:
                yield doc
