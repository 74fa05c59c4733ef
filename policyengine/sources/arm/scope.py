"""The evaluation scope of one template: its parameters, variables, user-defined functions,
outputs, and what the user told us about where it will be deployed.

Parameters and variables are evaluated when first read and remembered; a variable that reads
itself through others is an error naming the cycle. Every error carries the ``file:line:col``
of the JSON string that holds the failing expression (templates decoded with
:func:`policyengine.sources.jsonpos.loads` know their positions; plain dicts do not).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policyengine.errors import InputError, Span, UsageError
from policyengine.sources import jsonpos
from policyengine.sources.arm.evaluator import Evaluator, Loop
from policyengine.sources.arm.expressions import Expr, TemplateError, template_string
from policyengine.sources.arm.values import (
    SECURE_TYPES,
    Budget,
    Mode,
    check_depth,
    conforms,
    deep_equal,
    type_name,
)
from policyengine.sources.jsonpos import span_at
from policyengine.unknown import Unknown, quote

__all__ = ["Deployment", "TemplateError", "TemplateScope", "load_parameters_file", "parse_inline"]

SECURE = "a secure parameter: its value is never read"
#: An output whose condition is false: it is not in the deployment's outputs.
OMITTED: Any = object()
UserFunction = tuple[list[Mapping[str, Any]], Mapping[str, Any]]  # (parameters, output)
_TARGETS = {"subscriptiondeploymenttemplate": "subscription",
            "managementgroupdeploymenttemplate": "managementGroup", "tenantdeploymenttemplate": "tenant"}


@dataclass(frozen=True)
class Deployment:
    """What the user may tell us about where the template will be deployed."""

    subscription_id: str | None = None
    resource_group: str | None = None
    location: str | None = None  # the resource group's location
    deployment_name: str | None = None
    tenant_id: str | None = None


class TemplateScope:
    """Evaluates one template's expressions (``outer`` is the scope of the template that holds
    this one as an inner-scope nested deployment; it shares its notes and budget)."""

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, Any], deployment: Deployment,
                 file: str, *, outer: TemplateScope | None = None) -> None:
        self.template = template
        self.deployment = deployment
        self.file = file
        self.outer = outer
        self.notes: list[str] = outer.notes if outer else []
        self.budget: Budget = outer.budget if outer else Budget()
        self.where: Span | None = None  # the string being evaluated, for notes
        self.language_v2 = str(template.get("languageVersion", "")).startswith("2")
        schema = str(template.get("$schema", "")).lower()
        self.target = next((t for key, t in _TARGETS.items() if key in schema), "resourceGroup")
        self._params = _section(template, "parameters")
        self._variables = {k: v for k, v in _section(template, "variables").items() if k != "copy"}
        self._variable_loops = _variable_loops(template)
        self._functions = _user_functions(template)
        self._given = {name.lower(): (name, value) for name, value in values.items()}
        for key, (name, _) in self._given.items():
            if key not in self._params:
                raise TemplateError(f"parameter {name!r} is given a value but the template declares no such "
                                    f"parameter (it declares: {_names(self._params)})")
        self._parameter_values: dict[str, Any] = {}
        self._variable_values: dict[str, Any] = {}
        self._resolving: list[str] = []  # parameters and variables being evaluated, for cycles
        self._parsed: dict[str, Expr | str] = {}

    def evaluate(self, value: Any, loops: Sequence[tuple[str, int | Unknown]] = (), *, container: Any = None,
                 key: str | int | None = None) -> Any:
        """A template JSON value with every ``[...]`` expression evaluated (``[[`` escapes a
        literal) and property-level ``copy`` loops expanded. ``loops`` are the enclosing resource
        copy loops, innermost last; ``container``/``key`` say where the value sits, for spans."""
        result = Evaluator(self, [Loop(name, index) for name, index in loops]).walk(value, container, key)
        check_depth(result)
        return result

    def parameter(self, name: str) -> Any:
        """A parameter's value: given, else its default, else an Unknown; secure parameters
        and Key Vault references are always Unknown."""
        key = name.lower()
        if key in self._parameter_values:
            return self._parameter_values[key]
        if key not in self._params:
            raise TemplateError(f"parameters({quote(name)}): the template declares no parameter {name!r} "
                                f"(it declares: {_names(self._params)})")
        spelled, decl = self._params[key]
        if not isinstance(decl, Mapping):
            raise TemplateError(f"parameter {spelled!r} must be declared as an object, not {type_name(decl)}",
                                span_at(self.template.get("parameters"), spelled))
        decl = self._resolve_type(decl)
        text = f"parameters({quote(spelled)})"
        secure = str(decl.get("type", "")).lower() in SECURE_TYPES
        value: Any
        if key in self._given:
            given = self._given[key][1]
            if _is_key_vault_reference(given):
                value = Unknown(text, "a Key Vault reference: the secret is read at deployment")
            else:
                declared_at = span_at(self.template.get("parameters"), spelled)
                self._check(spelled, decl, given, secure, span=declared_at)
                value = Unknown(text, SECURE) if secure else given
        elif "defaultValue" in decl:
            value = self._resolve(spelled, lambda: Evaluator(self, mode=Mode.DEFAULT).walk(
                decl["defaultValue"], decl, "defaultValue"))
            self._check(spelled, decl, value, secure, span=span_at(decl, "defaultValue"))
            if secure:
                value = Unknown(text, SECURE)
            elif isinstance(value, Unknown):
                # The default is decided at deployment: it is this parameter's value, whatever
                # it is built from (two newGuid() defaults are different values).
                value = Unknown(text, value.reason, value.parts)
        elif decl.get("nullable") is True:
            value = None
        else:
            value = Unknown(text, f"required parameter {spelled!r} has no value")
        self._parameter_values[key] = value
        return value

    def check_parameters(self) -> None:
        """Every parameter's value against its declaration, as ARM checks them before it
        deploys anything: a value that breaks its ``allowedValues``, ``maxLength``... (or a
        default that cannot be evaluated) is an error of the whole template, since any
        resource may read it."""
        for spelled, _ in self._params.values():
            self.parameter(spelled)

    def variable(self, name: str) -> Any:
        """A variable's value, evaluated when first read (variable ``copy`` loops included)."""
        key = name.lower()
        if key in self._variable_values:
            return self._variable_values[key]
        value: Any
        if key in self._variable_loops:
            spelled, spec = self._variable_loops[key]
            value = self._resolve(spelled, lambda: Evaluator(self).copy_array(spec, spelled, named_only=True))
        elif key in self._variables:
            spelled, raw = self._variables[key]
            section = self.template["variables"]
            value = self._resolve(spelled, lambda: Evaluator(self).walk(raw, section, spelled))
        else:
            raise TemplateError(f"variables({quote(name)}): the template declares no variable {name!r} "
                                f"(it declares: {_names({**self._variables, **self._variable_loops})})")
        self._variable_values[key] = value
        return value

    def outputs(self) -> dict[str, Any]:
        """The template's outputs: ``condition`` respected, ``copy`` expanded, the declared
        ``type`` checked; secure outputs are Unknown."""
        out: dict[str, Any] = {}
        for name in self.output_names():
            value = self.output(name)
            if value is not OMITTED:
                out[name] = value
        return out

    def output_names(self) -> list[str]:
        return [name for name, _ in _section(self.template, "outputs").values()]

    def output(self, name: str) -> Any:
        """One output's value (:data:`OMITTED` when its condition is false)."""
        decl = _section(self.template, "outputs")[name.lower()][1]
        if not isinstance(decl, Mapping) or ("copy" in decl and not isinstance(decl["copy"], Mapping)):
            raise TemplateError(f"output {name!r} must be an object (and its copy an object with count "
                                "and input)", span_at(self.template.get("outputs"), name))
        evaluator = Evaluator(self)
        condition = evaluator.walk(decl["condition"], decl, "condition") if "condition" in decl else True
        if condition is False:
            return OMITTED
        if not isinstance(condition, bool | Unknown):
            raise TemplateError(f"output {name!r}: condition must be a bool, not {type_name(condition)}",
                                span_at(decl, "condition"))
        declared = str(self._resolve_type(decl).get("type", ""))
        if declared.lower() in SECURE_TYPES:
            return Unknown(f"outputs({quote(name)})", "a secure output: its value is never read")
        if "copy" in decl:
            value = evaluator.copy_array(decl["copy"], name, named_only=False)
        else:
            value = evaluator.walk(decl.get("value"), decl, "value")
        check_depth(value)
        if not conforms(value, declared) and value is not None:
            raise TemplateError(f"output {name!r} is declared {declared}, but its value is "
                                f"{type_name(value)}", span_at(decl, "value"))
        if isinstance(condition, Unknown):
            value = Unknown(f"if({condition.text}, outputs({quote(name)}), null())", condition.reason)
        return value

    # -- for the evaluator

    def parse(self, text: str) -> Expr | str:
        """A template string as an expression or literal text, parsed once."""
        if text not in self._parsed:
            self._parsed[text] = template_string(text)
        return self._parsed[text]

    def user_function(self, name: str) -> UserFunction | None:
        return self._functions.get(name.lower())

    def note(self, message: str) -> None:
        """Record something the scan could not evaluate (once per place)."""
        text = f"{self.where.prefix() if self.where else self.file}: {message}"
        if text not in self.notes:
            self.notes.append(text)

    # -- internals

    def _resolve(self, name: str, compute: Any) -> Any:
        """Evaluate a parameter default or a variable, refusing a cycle."""
        lowered = [n.lower() for n in self._resolving]
        if name.lower() in lowered:
            cycle = [*self._resolving[lowered.index(name.lower()):], name]
            raise TemplateError("parameters or variables refer to each other in a cycle: "
                                + " -> ".join(cycle))
        self._resolving.append(name)
        try:
            return compute()
        finally:
            self._resolving.pop()

    def _resolve_type(self, decl: Mapping[str, Any]) -> Mapping[str, Any]:
        """A languageVersion 2.0 ``$ref`` to ``#/definitions/x`` merged into the declaration."""
        definitions = self.template.get("definitions") or {}
        for _ in range(16):
            ref = decl.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/definitions/"):
                break
            target = definitions.get(ref.removeprefix("#/definitions/"))
            if not isinstance(target, Mapping):
                raise TemplateError(f"{ref!r} names no definition", span_at(decl, "$ref"))
            decl = {**target, **{k: v for k, v in decl.items() if k != "$ref"}}
        return decl

    def _check(self, name: str, decl: Mapping[str, Any], value: Any, secure: bool, span: Span | None) -> None:
        """The declared type, allowedValues, minValue/maxValue and minLength/maxLength. A
        secure value is never shown in a message."""
        declared = str(decl.get("type", ""))
        shown = "" if secure or isinstance(value, Unknown) else f" {_short(value)}"

        def fail(problem: str) -> TemplateError:
            return TemplateError(f"parameter {name!r}: the value{shown} {problem}", span)

        if value is None and (decl.get("nullable") is True or "defaultValue" in decl):
            return
        if not conforms(value, declared) or value is None:
            raise fail(f"is {type_name(value)}, but the parameter is declared {declared}")
        allowed = decl.get("allowedValues")
        if isinstance(allowed, list):
            elements = value if isinstance(value, list) and declared.lower() == "array" else [value]
            for element in elements:
                if not isinstance(element, Unknown) and not any(deep_equal(element, a) for a in allowed):
                    raise fail(f"is not one of the allowed values: {', '.join(_short(a) for a in allowed)}")
        if isinstance(value, int) and not isinstance(value, bool):
            if isinstance(decl.get("minValue"), int) and value < decl["minValue"]:
                raise fail(f"is less than minValue {decl['minValue']}")
            if isinstance(decl.get("maxValue"), int) and value > decl["maxValue"]:
                raise fail(f"is more than maxValue {decl['maxValue']}")
        if isinstance(value, str | list):
            if isinstance(decl.get("minLength"), int) and len(value) < decl["minLength"]:
                raise fail(f"is shorter than minLength {decl['minLength']} (length {len(value)})")
            if isinstance(decl.get("maxLength"), int) and len(value) > decl["maxLength"]:
                raise fail(f"is longer than maxLength {decl['maxLength']} (length {len(value)})")


def _section(template: Mapping[str, Any], name: str) -> dict[str, tuple[str, Any]]:
    """A template section (parameters, variables, outputs) by lower-case name."""
    section = template.get(name) or {}
    if not isinstance(section, Mapping):
        raise TemplateError(f"the template's {name!r} must be an object, not {type_name(section)}",
                            span_at(template, name))
    return {key.lower(): (key, value) for key, value in section.items()}


def _variable_loops(template: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """``variables.copy``: each loop defines an array variable
    (https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-variables)."""
    loops = (template.get("variables") or {}).get("copy") or []
    if not isinstance(loops, list) or not all(isinstance(s, Mapping) and isinstance(s.get("name"), str)
                                              for s in loops):
        raise TemplateError("variables.copy must be an array of {name, count, input}",
                            span_at(template.get("variables"), "copy"))
    return {spec["name"].lower(): (spec["name"], spec) for spec in loops}


def _user_functions(template: Mapping[str, Any]) -> dict[str, UserFunction]:
    """``functions``: ``ns.fn`` → (parameters, output)."""
    out: dict[str, UserFunction] = {}
    for namespace in template.get("functions") or []:
        if not isinstance(namespace, Mapping) or not isinstance(namespace.get("namespace"), str):
            raise TemplateError("every entry of 'functions' needs a namespace and members",
                                span_at(template, "functions"))
        members = namespace.get("members") or {}
        if not isinstance(members, Mapping):
            raise TemplateError("the members of a function namespace must be an object",
                                span_at(namespace, "members"))
        for name, member in members.items():
            params = member.get("parameters") or [] if isinstance(member, Mapping) else None
            output = member.get("output") if isinstance(member, Mapping) else None
            if not isinstance(params, list) or not all(isinstance(p, Mapping) for p in params) \
                    or not isinstance(output, Mapping):
                where = span_at(namespace.get("members"), name)
                raise TemplateError(f"user-defined function {namespace['namespace']}.{name} needs "
                                    "'parameters' (an array) and 'output'", where)
            out[f"{namespace['namespace']}.{name}".lower()] = (params, output)
    return out


def _is_key_vault_reference(value: Any) -> bool:
    """A parameter file's ``{"reference": {"keyVault": ..., "secretName": ...}}``."""
    if not isinstance(value, Mapping) or list(value) != ["reference"]:
        return False
    return isinstance(value["reference"], Mapping) and "keyVault" in value["reference"]


def _names(section: Mapping[str, tuple[str, Any]]) -> str:
    return ", ".join(sorted(name for name, _ in section.values())) or "none"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- parameter values from files and the command line


def load_parameters_file(path: Path) -> dict[str, Any]:
    """A deployment parameters file: ``{"parameters": {"name": {"value": ...}}}`` → name → value;
    a Key Vault reference stays ``{"reference": {...}}`` (it becomes an Unknown when read).
    https://learn.microsoft.com/azure/azure-resource-manager/templates/parameter-files"""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the parameters file: {exc}", Span(file)) from None
    document = jsonpos.loads(text, file)
    parameters = document.get("parameters") if isinstance(document, dict) else None
    if not isinstance(parameters, dict):
        where = span_at(document, "parameters") or jsonpos.span_of(document)
        raise InputError("a parameters file is an object with a 'parameters' object", where)
    out: dict[str, Any] = {}
    for name, entry in parameters.items():
        keys = set(entry) - {"metadata"} if isinstance(entry, dict) else set()
        if keys == {"value"}:
            out[name] = entry["value"]
        elif keys == {"reference"} and isinstance(entry["reference"], dict):
            out[name] = {"reference": entry["reference"]}
        else:
            raise InputError(f"parameter {name!r} needs exactly one of 'value' or 'reference'",
                             span_at(parameters, name))
    return out


def parse_inline(assignment: str, template: Mapping[str, Any]) -> tuple[str, Any]:
    """``-p name=value``: the value as the parameter's declared type reads it (a string stays
    the raw text; an int, bool, array or object is parsed; an undeclared type takes JSON if the
    text is JSON). Returns the parameter's name as the template spells it. Every problem is a
    :class:`UsageError` that quotes the user's text escaped and cut short (a value may be
    100,000 characters, or hold terminal escapes)."""

    def shown(text: str) -> str:
        return repr(text) if len(text) <= 60 else f"{text[:60]!r}... ({len(text)} characters)"

    name, sep, text = assignment.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"-p {shown(assignment)}: expected name=value")
    declared = _section(template, "parameters")
    if name.strip().lower() not in declared:
        label = name.strip() if name.strip().isprintable() and len(name) <= 60 else shown(name.strip())
        raise UsageError(f"-p {label}: the template declares no such parameter "
                         f"(it declares: {_names(declared)})")
    spelled, decl = declared[name.strip().lower()]
    kind = str(decl.get("type", "")).lower() if isinstance(decl, Mapping) else ""
    if kind in ("string", "securestring"):
        return spelled, text
    if kind == "int":
        if not re.fullmatch(r"[-+]?\d+", text.strip()):
            raise UsageError(f"-p {spelled}: {shown(text)} is not an int")
        digits = len(text.strip().lstrip("+-"))
        # Python reads at most 4,300 digits (sys.get_int_max_str_digits); ARM's ints have 19.
        if digits > 4300:
            raise UsageError(f"-p {spelled}: an int of {digits} digits: at most 4300 are read")
        return spelled, int(text)
    if kind == "bool":
        if text.strip().lower() not in ("true", "false"):
            raise UsageError(f"-p {spelled}: {shown(text)} is not true or false")
        return spelled, text.strip().lower() == "true"
    try:
        value = jsonpos.loads(text, f"-p {spelled}")
    except InputError as exc:
        if kind in ("array", "object", "secureobject"):
            raise UsageError(f"-p {spelled}: the value must be JSON ({exc})") from None
        return spelled, text
    if not conforms(value, kind):
        raise UsageError(f"-p {spelled}: the value is {type_name(value)}, but the parameter is declared "
                         f"{kind}")
    return spelled, value
