"""Load rule files and directories into the IR.

YAML → documents with positions → schema validation → IR. Only this package touches
YAML-shaped data; everything after it sees frozen :mod:`policyengine.ir` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine import ir
from policyengine.errors import RuleLoadError, RuleLoadErrors, Span
from policyengine.operators import COUNT_COMPARISONS, OPERATORS, PatternError, compile_pattern
from policyengine.paths import FieldPath, PathSyntaxError, parse_path

if TYPE_CHECKING:
    from policyengine.loading.yaml_nodes import Document, JsonPath

# YAML and jsonschema (loading.yaml_nodes, loading.schema: ~90 ms of imports) are imported
# where a rule file is parsed, not here: a scan whose rules come from the compiled cache
# (loading/cache.py) never parses one.

RULE_SUFFIXES = (".yaml", ".yml")
#: Test files that sit beside rules (``x.tests.yaml``) are not rules.
TEST_SUFFIXES = (".tests.yaml", ".tests.yml")


def bundled_rules_dir() -> Path:
    return Path(str(resources.files("policyengine") / "data" / "rules"))


class _RuleBuilder:
    """Builds one :class:`ir.Rule` from a schema-valid document, collecting semantic errors."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.errors: list[RuleLoadError] = []
        self.related_names: set[str] = set()

    def error(self, path: JsonPath, message: str, *, key: bool = False) -> None:
        from policyengine.loading.schema import dotted

        self.errors.append(RuleLoadError(f"{dotted(path)}: {message}", self.doc.positions.of(path, key=key)))

    def span(self, path: JsonPath) -> Span:
        return self.doc.positions.of(path)

    def build(self) -> ir.Rule | None:
        data = self.doc.data
        meta = data["metadata"]
        spec = data["spec"]
        resource_type = spec["resource"]
        related = tuple(
            self.related(name, body, resource_type)
            for name, body in spec.get("related", {}).items()
        )
        self.related_names = {r.name for r in related}
        where = self.condition(spec["where"], ("spec", "where"), False) if "where" in spec else None
        condition = self.condition(spec["condition"], ("spec", "condition"), False)
        tests = tuple(self.test(t, ("spec", "tests", i)) for i, t in enumerate(spec.get("tests", [])))
        if self.errors or condition is None:
            return None
        remediation = meta["remediation"]
        metadata = ir.Metadata(
            id=meta["id"],
            title=meta["title"],
            severity=ir.Severity.parse(meta["severity"]),
            description=meta["description"].strip(),
            remediation=ir.Remediation(
                text=remediation["text"].strip(),
                portal=remediation.get("portal"),
                cli=remediation.get("cli"),
            ),
            references=tuple(meta.get("references", ())),
            controls=tuple((k, tuple(v)) for k, v in sorted(meta.get("controls", {}).items())),
            tags=tuple(meta.get("tags", ())),
        )
        return ir.Rule(
            metadata=metadata,
            resource_type=resource_type,
            condition=condition,
            where=where,
            related=related,
            on_missing=ir.OnMissing(spec.get("onMissing", "unknown")),
            tests=tests,
            span=self.span(("metadata", "id")),
        )

    def related(self, name: str, body: dict[str, Any], resource_type: str) -> ir.Related:
        path: JsonPath = ("spec", "related", name)
        scope = ir.Scope(body.get("scope", "child"))
        if scope is ir.Scope.CHILD and not body["type"].lower().startswith(resource_type.lower() + "/"):
            self.error(
                (*path, "type"),
                f"a child of {resource_type} must have a type under it "
                f"(e.g. {resource_type}/configurations); use scope: subscription for "
                "subscription-level resources",
            )
        if "name" not in body and "default" in body:
            self.error((*path, "default"), "a related entry without a name is every resource of its type "
                       "(an array): it has no default (a template that declares none has none)")
        return ir.Related(
            name=name,
            type=body["type"],
            resource_name=body.get("name", ir.EVERY),
            scope=scope,
            default=body.get("default"),
            span=self.span(path),
        )

    def field_path(self, text: str, path: JsonPath, in_count: bool) -> FieldPath | None:
        try:
            parsed = parse_path(text)
        except PathSyntaxError as exc:
            self.error(path, f"bad field path '{text}': {exc}")
            return None
        if parsed.element and not in_count:
            self.error(path, "'@' (the current element) is only meaningful inside count.where")
            return None
        if parsed.segments[:1] == ("related",):
            if len(parsed.segments) < 2:
                self.error(path, "'related' must be followed by a related name")
                return None
            if parsed.related_name not in self.related_names:
                known = ", ".join(sorted(self.related_names)) or "none declared"
                self.error(path, f"'{parsed.related_name}' is not declared in spec.related ({known})")
                return None
        return parsed

    def condition(self, node: dict[str, Any], path: JsonPath, in_count: bool) -> ir.Condition | None:
        span = self.span(path)
        if "allOf" in node or "anyOf" in node:
            key = "allOf" if "allOf" in node else "anyOf"
            items = [self.condition(c, (*path, key, i), in_count) for i, c in enumerate(node[key])]
            if any(i is None for i in items):
                return None
            cls = ir.AllOf if key == "allOf" else ir.AnyOf
            return cls(tuple(i for i in items if i is not None), span)
        if "not" in node:
            inner = self.condition(node["not"], (*path, "not"), in_count)
            return None if inner is None else ir.Not(inner, span)
        field = self.field_path(node["field"], (*path, "field"), in_count)
        op = next(k for k in node if k in OPERATORS)
        value = node[op]
        if field is None:
            return None
        if op == "count":
            return self.count(field, value, (*path, "count"), span)
        if op == "match":
            # Compiled here, as it will be evaluated (RE2, both ways of case), so that a
            # pattern the evaluator or KQL cannot run is a load error at its line.
            try:
                compile_pattern(value, bool(node.get("caseSensitive", False)))
            except PatternError as exc:
                from policyengine.loading.yaml_nodes import shown

                self.error((*path, op), f"bad regular expression {shown(value)}: {exc}")
                return None
        on_missing = ir.OnMissing(node["onMissing"]) if "onMissing" in node else None
        if isinstance(value, list):
            value = tuple(value)
        return ir.Compare(field, op, value, bool(node.get("caseSensitive", False)), on_missing, span)

    def count(self, field: FieldPath, body: dict[str, Any], path: JsonPath, span: Span) -> ir.Count | None:
        where = self.condition(body["where"], (*path, "where"), True) if "where" in body else None
        if "where" in body and where is None:
            return None
        op = next(k for k in body if k in COUNT_COMPARISONS)
        return ir.Count(field, op, body[op], where, span)

    def test(self, body: dict[str, Any], path: JsonPath) -> ir.RuleTest:
        related = body.get("related", {})
        for name in related:
            if name not in self.related_names:
                self.error((*path, "related", name), f"'{name}' is not declared in spec.related", key=True)
        return ir.RuleTest(
            name=body["name"],
            resource=body["resource"],
            related=related,
            source=ir.SourceKind(body.get("source", "observed")),
            expect=body["expect"],
            span=self.span(path),
        )


@dataclass(frozen=True)
class LoadedRule:
    """A rule with the document it was built from: the position of every node, which the
    linter needs to point at a path or a value inside a condition."""

    rule: ir.Rule
    doc: Document = field(compare=False)


def load_file_documents(path: Path, display: str | None = None
                        ) -> tuple[list[LoadedRule], list[RuleLoadError]]:
    """Rules of one file with their documents, and the errors found in it (every one)."""
    from policyengine.loading.schema import validate
    from policyengine.loading.yaml_nodes import load_documents, read_text

    name = display or str(path)
    try:
        text = read_text(path, name, "rule file")
    except RuleLoadError as exc:
        return [], [exc]
    rules: list[LoadedRule] = []
    errors: list[RuleLoadError] = []
    documents = 0
    try:
        for doc in load_documents(text, name):
            if doc.data is None:
                continue
            documents += 1
            if not isinstance(doc.data, dict):
                errors.append(RuleLoadError("a rule must be a mapping", doc.span))
                continue
            problems = validate(doc)
            if problems:
                errors.extend(problems)
                continue
            builder = _RuleBuilder(doc)
            rule = builder.build()
            errors.extend(builder.errors)
            if rule is not None:
                rules.append(LoadedRule(rule, doc))
    except RuleLoadError as exc:
        errors.append(exc)
    if not documents and not errors:
        # A rule file that came out empty (truncated, or everything commented out) would
        # otherwise check nothing without a word.
        errors.append(RuleLoadError("the file holds no rule (it is empty or only comments)",
                                    Span(name, 1, 1)))
    return rules, errors


def load_file(path: Path, display: str | None = None) -> tuple[list[ir.Rule], list[RuleLoadError]]:
    """Rules of one file and the errors found in it (every one, not just the first)."""
    loaded, errors = load_file_documents(path, display)
    return [x.rule for x in loaded], errors


def rule_files(path: Path) -> list[Path]:
    """``path`` itself, or every rule file below a directory (sorted, test files left out)."""
    if path.is_dir():
        return [
            p for p in sorted(path.rglob("*"))
            if p.is_file() and p.name.endswith(RULE_SUFFIXES) and not p.name.endswith(TEST_SUFFIXES)
        ]
    return [path]


def rule_sources(paths: Iterable[Path], *, include_bundled: bool = True) -> list[tuple[Path, str]]:
    """Every rule file to load, with the name to show for it: the bundled rules (as
    ``rules/...``) unless told not to, then every rule file under ``paths``."""
    sources: list[tuple[Path, str]] = []
    if include_bundled:
        bundled = bundled_rules_dir()
        sources += [(p, f"rules/{p.relative_to(bundled)}") for p in rule_files(bundled)]
    for path in paths:
        if not path.exists():
            raise RuleLoadErrors([RuleLoadError("no such rule file or directory", Span(str(path)))])
        found = rule_files(path)
        if not found:
            suffixes = ", ".join("*" + suffix for suffix in RULE_SUFFIXES)
            raise RuleLoadErrors([RuleLoadError(f"no rule files ({suffixes}) in this directory",
                                                Span(str(path)))])
        sources += [(p, str(p)) for p in found]
    return sources


def drop_duplicate_ids(rules: Iterable[ir.Rule]) -> tuple[list[ir.Rule], list[RuleLoadError]]:
    """The rules with a duplicate id left out (ids compare case-insensitively), and an error
    at each one left out naming where the id was first defined."""
    kept: list[ir.Rule] = []
    errors: list[RuleLoadError] = []
    first_seen: dict[str, ir.Rule] = {}
    for rule in rules:
        previous = first_seen.get(rule.id.lower())
        if previous is not None:
            where = previous.span.prefix() if previous.span else "elsewhere"
            errors.append(RuleLoadError(
                f"metadata.id: duplicate rule id '{rule.id}' (first defined at {where})",
                rule.span,
            ))
            continue
        first_seen[rule.id.lower()] = rule
        kept.append(rule)
    return kept, errors


def load_rules(paths: Iterable[Path], *, include_bundled: bool = True) -> tuple[ir.Rule, ...]:
    """Load the bundled rules (unless told not to) and every rule file under ``paths``.

    Raises :class:`RuleLoadErrors` with every problem found, each as ``file:line:col: ...``.
    A rule set that loaded cleanly before, unchanged, comes from the compiled-rules cache
    (:mod:`policyengine.loading.cache`).
    """
    from policyengine.loading.cache import cached

    sources = rule_sources(paths, include_bundled=include_bundled)
    return cached(sources, lambda: compile_rules(sources))


def compile_rules(sources: Iterable[tuple[Path, str]]) -> tuple[ir.Rule, ...]:
    """Parse, validate and build every rule file of ``sources`` (no cache); raises
    :class:`RuleLoadErrors` with every problem found."""
    loaded: list[ir.Rule] = []
    errors: list[RuleLoadError] = []
    for file, display in sources:
        rules, problems = load_file(file, display)
        errors.extend(problems)
        loaded.extend(rules)
    rules, duplicates = drop_duplicate_ids(loaded)
    errors.extend(duplicates)
    if errors:
        raise RuleLoadErrors(errors)
    return tuple(sorted(rules, key=lambda r: r.id))
