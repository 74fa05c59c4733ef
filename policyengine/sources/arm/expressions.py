"""The ARM template expression language: tokenizer, parser, syntax tree and canonical printer.

A JSON string that starts with ``[`` and ends with ``]`` is an expression; ``[[`` at the start
escapes a literal string (the first bracket is dropped):
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions#escape-characters

The grammar is small::

    expr    := primary ( '.' NAME | '[' expr ']' )*
    primary := STRING | INTEGER | call
    call    := NAME ( '.' NAME )? '(' ( expr ( ',' expr )* )? ')'

Strings are single-quoted with ``''`` for a quote; integers are 64-bit and may be negative;
``true``, ``false`` and ``null`` are functions (``true()``), not literals; ``ns.fn(...)`` calls a
user-defined function. The parser is recursive descent with its nesting bounded, so a hostile
template nested thousands deep gets a clear :class:`ExpressionError`, never a RecursionError.
"""

from __future__ import annotations

from dataclasses import dataclass

from policyengine.errors import InputError
from policyengine.unknown import quote

# ARM rejects longer expressions:
# https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions
MAX_LENGTH = 24_576
# Far deeper than any real template; keeps the parser and the evaluator well inside Python's stack.
MAX_NESTING = 100

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class TemplateError(InputError):
    """A template that ARM itself would reject: a bad argument, an unknown name, a cycle.

    Raised while a resource is expanded, it takes out that resource only (see
    :mod:`policyengine.sources.arm.rejected`)."""


class TemplateLimitError(TemplateError):
    """A bound on what a hostile template can make us build (evaluation steps, resources):
    once passed, nothing more of the template can be evaluated, so it takes out the file."""


class ExpressionError(TemplateError):
    """An expression that does not parse; ``offset`` is where in the expression text it fails."""

    def __init__(self, message: str, offset: int, text: str = "") -> None:
        shown = text if len(text) <= 120 else text[:117] + "..."
        where = f" at character {offset + 1} of [{shown}]" if text else f" at character {offset + 1}"
        super().__init__(f"invalid expression: {message}{where}")
        self.offset = offset


@dataclass(frozen=True)
class Literal:
    """A string or integer literal."""

    value: str | int


@dataclass(frozen=True)
class Call:
    """A function call; ``name`` is the documented spelling for ARM's own functions."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Member:
    """Property access: ``base.name``."""

    base: Expr
    name: str


@dataclass(frozen=True)
class Index:
    """Index access: ``base[index]``."""

    base: Expr
    index: Expr


Expr = Literal | Call | Member | Index


def template_string(text: str) -> Expr | str:
    """What a JSON string of a template means: an expression, or literal text.

    Only a string that starts with ``[`` and ends with ``]`` is an expression; ``[[...]`` is the
    literal ``[...]``, and ``[test] value`` is literal as it stands."""
    if len(text) < 2 or text[0] != "[" or text[-1] != "]":
        return text
    if text[1] == "[":
        return text[1:]
    return parse(text[1:-1])


def parse(text: str) -> Expr:
    """Parse the text between the brackets of an expression."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than ARM's limit of {MAX_LENGTH} characters", MAX_LENGTH, text)
    parser = _Parser(text)
    if parser.peek().kind == "end":
        raise ExpressionError("empty expression", 0, text)
    expr = parser.expression(0)
    token = parser.peek()
    if token.kind != "end":
        raise ExpressionError(f"unexpected {token.describe()} after the expression", token.offset, text)
    return expr


# -- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "name" "string" "int" "(" ")" "[" "]" "," "." "end"
    offset: int
    value: str | int = ""

    def describe(self) -> str:
        if self.kind == "end":
            return "end of expression"
        if self.kind == "name":
            return f"name {self.value!r}"
        if self.kind == "string":
            return "string"
        if self.kind == "int":
            return f"number {self.value}"
        return f"{self.kind!r}"


_PUNCTUATION = "()[],."
_DIGITS = "0123456789"  # ASCII only: str.isdigit() is also true for superscripts


def _digit_at(text: str, i: int) -> bool:
    return i < len(text) and text[i] in _DIGITS
_SPACE = " \t\r\n"


def _name_char(ch: str, first: bool) -> bool:
    return ch.isalpha() or ch in "_$" or (not first and ch.isdigit())


class _Parser:
    """Recursive descent over a token list; ``depth`` bounds the nesting."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize()
        self.pos = 0

    def fail(self, message: str, offset: int) -> ExpressionError:
        return ExpressionError(message, offset, self.text)

    def _tokenize(self) -> list[_Token]:
        text, tokens, i = self.text, [], 0
        while i < len(text):
            ch = text[i]
            if ch in _SPACE:
                i += 1
            elif ch in _PUNCTUATION:
                tokens.append(_Token(ch, i))
                i += 1
            elif ch == "'":
                start, pieces = i, []
                i += 1
                while True:
                    end = text.find("'", i)
                    if end < 0:
                        raise self.fail("unterminated string", start)
                    pieces.append(text[i:end])
                    if text.startswith("''", end):  # '' is a quote inside a string
                        pieces.append("'")
                        i = end + 2
                        continue
                    i = end + 1
                    break
                tokens.append(_Token("string", start, "".join(pieces)))
            elif ch in _DIGITS or (ch == "-" and _digit_at(text, i + 1)):
                start = i
                i += 1
                while _digit_at(text, i):
                    i += 1
                if text[i:i + 1] == "." and _digit_at(text, i + 1):
                    # ARM has integer literals only: https://learn.microsoft.com/azure/
                    # azure-resource-manager/templates/template-functions-numeric#float
                    raise self.fail("a number with a fraction is not an ARM literal; use json('1.5')", start)
                number = int(text[start:i])
                if not INT64_MIN <= number <= INT64_MAX:
                    raise self.fail("integer out of the 64-bit range", start)
                tokens.append(_Token("int", start, number))
            elif _name_char(ch, True):
                start = i
                while i < len(text) and _name_char(text[i], False):
                    i += 1
                tokens.append(_Token("name", start, text[start:i]))
            else:
                raise self.fail(f"unexpected character {ch!r}", i)
        tokens.append(_Token("end", len(text)))
        return tokens

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self, kind: str, what: str) -> _Token:
        token = self.peek()
        if token.kind != kind:
            raise self.fail(f"expected {what}, found {token.describe()}", token.offset)
        self.pos += 1
        return token

    def expression(self, depth: int) -> Expr:
        if depth > MAX_NESTING:
            raise self.fail(f"nested more than {MAX_NESTING} deep", self.peek().offset)
        token = self.peek()
        expr: Expr
        if token.kind in ("string", "int"):
            self.pos += 1
            expr = Literal(token.value)
        elif token.kind == "name":
            expr = self.call(depth)
        else:
            raise self.fail(f"expected a value, found {token.describe()}", token.offset)
        while True:
            token = self.peek()
            if token.kind == ".":
                self.pos += 1
                expr = Member(expr, str(self.take("name", "a property name after '.'").value))
            elif token.kind == "[":
                self.pos += 1
                expr = Index(expr, self.expression(depth + 1))
                self.take("]", "']'")
            else:
                return expr

    def call(self, depth: int) -> Call:
        first = self.take("name", "a function name")
        name = str(first.value)
        # ns.fn( is a user-defined function; a name is only ever a call
        if self.peek().kind == "." and self.peek(1).kind == "name" and self.peek(2).kind == "(":
            name = f"{name}.{self.peek(1).value}"
            self.pos += 2
        if self.peek().kind != "(":
            hint = f"; write {name}()" if name.lower() in ("true", "false", "null") else ""
            raise self.fail(f"expected '(' after the function name {name!r}{hint}", self.peek().offset)
        self.pos += 1
        args: list[Expr] = []
        if self.peek().kind != ")":
            while True:
                args.append(self.expression(depth + 1))
                if self.peek().kind != ",":
                    break
                self.pos += 1
        self.take(")", "',' or ')'")
        return Call(spelling(name), tuple(args))


def spelling(name: str) -> str:
    """A function name as documented (``TOLOWER`` → ``toLower``); ``list*`` keeps its suffix,
    a user-defined ``ns.fn`` and an unknown name stay as written."""
    # The table imports this module for the syntax tree, so it is imported when first needed.
    from policyengine.sources.arm.functions import FUNCTIONS

    known = FUNCTIONS.get(name.lower())
    if known is not None:
        return known.name
    if name.lower().startswith("list") and "." not in name:
        return "list" + name[4:]
    return name


# -- printing


def canonical(expr: Expr) -> str:
    """The expression written back canonically: documented spellings, ``', '`` between
    arguments, ``x.name`` for an identifier key (``x['name']`` and ``x.name`` print alike)."""
    if isinstance(expr, Literal):
        return quote(expr.value) if isinstance(expr.value, str) else str(expr.value)
    if isinstance(expr, Call):
        return f"{expr.name}({', '.join(canonical(a) for a in expr.args)})"
    if isinstance(expr, Member):
        return member_text(canonical(expr.base), expr.name)
    if isinstance(expr.index, Literal) and isinstance(expr.index.value, str):
        return member_text(canonical(expr.base), expr.index.value)
    return f"{canonical(expr.base)}[{canonical(expr.index)}]"


def member_text(base: str, key: str) -> str:
    """``base.key`` when ``key`` is a plain name, else ``base['key']``."""
    if key and _name_char(key[0], True) and all(_name_char(c, False) for c in key):
        return f"{base}.{key}"
    return f"{base}[{quote(key)}]"
