"""A recursive-descent parser for exactly the KQL the query planner emits.

Anything else is a :class:`KqlSyntaxError` naming the construct, so a compiler change that
emits something new fails the agreement tests loudly instead of being half-understood.

Precedence, loosest first: ``or``, ``and`` ("The logical and has higher precedence than the
logical or", https://learn.microsoft.com/kusto/query/logical-operators), one comparison,
``+ -``, ``*``, unary ``-``, then property and index access.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tests.kqloracle import syntax as s
from tests.kqloracle.lexer import KqlSyntaxError, Token, tokenize, where
from tests.kqloracle.values import INT64, boolean, long, real, string

T = TypeVar("T")
_COMPARE = ("==", "!=", "=~", "!~", "<", "<=", ">", ">=")
_STRING_OPS = ("contains", "contains_cs", "startswith", "startswith_cs", "endswith", "endswith_cs")
_IN = ("in", "!in", "in~", "!in~")
_KEYWORDS = frozenset({"and", "or", "not", "in", "by", "on", "kind", "where", "extend", "project", "join",
                       "summarize", "matches", "regex", "true", "false", *_STRING_OPS})


def parse(text: str) -> s.Query:
    """The syntax tree of one query; raises :class:`KqlSyntaxError` outside the subset."""
    parser = _Parser(text)
    query = parser.query()
    parser.expect_eof()
    return query


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    # -- tokens -----------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tok
        self.pos += 1
        return token

    def error(self, message: str, token: Token | None = None) -> KqlSyntaxError:
        token = token or self.tok
        return KqlSyntaxError(f"{where(self.text, token.pos)}: {message}")

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        return self.advance() if self.at(kind, text) else None

    def expect(self, kind: str, text: str | None = None) -> Token:
        if not self.at(kind, text):
            wanted = text or kind
            found = self.tok.text or "end of query"
            raise self.error(f"expected {wanted!r}, found {found!r}")
        return self.advance()

    def expect_eof(self) -> None:
        if not self.at("eof"):
            raise self.error(f"unexpected {self.tok.text!r} after the end of the query")

    # -- tabular ----------------------------------------------------------------------------
    def query(self) -> s.Query:
        source: s.Table | s.Query
        if self.accept("op", "("):
            source = self.query()
            self.expect("op", ")")
        else:
            name = self.expect("ident")
            if name.text in _KEYWORDS:
                raise self.error(f"a table name expected, found the keyword {name.text!r}", name)
            source = s.Table(name.text)
        operators: list[s.Operator] = []
        while self.accept("op", "|"):
            operators.append(self.operator())
        return s.Query(source, tuple(operators))

    def operator(self) -> s.Operator:
        word = self.expect("ident")
        if word.text == "where":
            return s.Where(self.expr())
        if word.text == "extend":
            return s.Extend(self.commas(self.assignment))
        if word.text == "project":
            return s.Project(self.commas(self.project_item))
        if word.text == "join":
            return self.join()
        if word.text == "summarize":
            return self.summarize()
        raise self.error(f"tabular operator {word.text!r} is outside the oracle's subset", word)

    def commas(self, item: Callable[[], T]) -> tuple[T, ...]:
        items = [item()]
        while self.accept("op", ","):
            items.append(item())
        return tuple(items)

    def name(self) -> str:
        """A column name: an identifier or ``['…']``/``["…"]`` ("Entity names",
        https://learn.microsoft.com/kusto/query/schema-entities/entity-names)."""
        if self.accept("op", "["):
            text = self.expect("string").value
            self.expect("op", "]")
            return str(text)
        token = self.expect("ident")
        if token.text in _KEYWORDS:
            raise self.error(f"the keyword {token.text!r} cannot name a column unquoted", token)
        return token.text

    def assignment(self) -> tuple[str, s.Expr]:
        name = self.name()
        self.expect("op", "=")
        return name, self.expr()

    def project_item(self) -> tuple[str, s.Expr]:
        name = self.name()
        if self.accept("op", "="):
            return name, self.expr()
        return name, s.Column(name)

    def join(self) -> s.Join:
        self.expect("ident", "kind")
        self.expect("op", "=")
        kind = self.expect("ident")
        if kind.text != "leftouter":
            raise self.error(f"join kind {kind.text!r} is outside the oracle's subset", kind)
        self.expect("op", "(")
        right = self.query()
        self.expect("op", ")")
        self.expect("ident", "on")
        return s.Join(kind.text, right, self.commas(self.name))

    def summarize(self) -> s.Summarize:
        def aggregate() -> tuple[str, s.Call]:
            name = self.name()
            self.expect("op", "=")
            token = self.tok
            call = self.postfix()
            if not isinstance(call, s.Call):
                raise self.error("summarize needs an aggregation function call", token)
            return name, call

        aggregates = self.commas(aggregate)
        by: tuple[str, ...] = ()
        if self.accept("ident", "by"):
            by = self.commas(self.name)
        return s.Summarize(aggregates, by)

    # -- scalar -----------------------------------------------------------------------------
    def expr(self) -> s.Expr:
        left = self.conjunction()
        while self.accept("ident", "or"):
            left = s.Binary("or", left, self.conjunction())
        return left

    def conjunction(self) -> s.Expr:
        left = self.comparison()
        while self.accept("ident", "and"):
            left = s.Binary("and", left, self.comparison())
        return left

    def comparison(self) -> s.Expr:
        left = self.additive()
        token = self.tok
        if token.kind == "op" and token.text in _COMPARE:
            self.advance()
            return s.Binary(token.text, left, self.additive())
        if (token.kind == "op" and token.text in _IN) or (token.kind == "ident" and token.text == "in"):
            self.advance()
            self.expect("op", "(")
            items = self.commas(self.expr)
            self.expect("op", ")")
            return s.InList(token.text, left, items)
        if token.kind == "ident" and token.text in _STRING_OPS:
            self.advance()
            return s.Binary(token.text, left, self.additive())
        if token.kind == "ident" and token.text == "matches":
            self.advance()
            self.expect("ident", "regex")
            pattern = self.additive()
            if not (isinstance(pattern, s.Literal) and isinstance(pattern.value.v, str)):
                raise self.error("matches regex needs a string literal", token)
            return s.Binary("matches regex", left, pattern)
        if token.kind == "op" and token.text in ("!", "~", "/", "%", ";"):
            raise self.error(f"operator {token.text!r} is outside the oracle's subset")
        if token.kind == "ident" and token.text not in _KEYWORDS:
            raise self.error(f"operator {token.text!r} is outside the oracle's subset")
        return left

    def additive(self) -> s.Expr:
        left = self.multiplicative()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.advance().text
            left = s.Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> s.Expr:
        left = self.unary()
        while self.accept("op", "*"):
            left = s.Binary("*", left, self.unary())
        return left

    def unary(self) -> s.Expr:
        if self.accept("op", "-"):
            if self.at("long"):
                return s.Literal(long(-self.advance().value))
            if self.at("real"):
                return s.Literal(real(-self.advance().value))
            return s.Negate(self.unary())
        return self.postfix()

    def postfix(self) -> s.Expr:
        expr = self.primary()
        while True:
            if self.accept("op", "."):
                key = self.expect("ident")
                expr = s.Member(expr, key.text)
            elif self.at("op", "["):
                bracket = self.advance()
                if self.at("string"):
                    expr = s.Member(expr, str(self.advance().value))
                elif self.at("long") or (self.at("op", "-") and self.peek().kind == "long"):
                    negative = bool(self.accept("op", "-"))
                    number = int(self.advance().value)
                    expr = s.Index(expr, -number if negative else number)
                else:
                    raise self.error("an index must be a string or a long literal", bracket)
                self.expect("op", "]")
            else:
                return expr

    def primary(self) -> s.Expr:
        token = self.tok
        if token.kind == "long":
            self.advance()
            if token.value >= INT64:
                raise self.error(f"{token.text} is out of the range of long", token)
            return s.Literal(long(token.value))
        if token.kind == "real":
            self.advance()
            return s.Literal(real(token.value))
        if token.kind == "string":
            self.advance()
            return s.Literal(string(token.value))
        if token.kind == "op" and token.text == "(":
            self.advance()
            inner = self.expr()
            self.expect("op", ")")
            return inner
        if token.kind == "op" and token.text == "[":
            return s.Column(self.name())
        if token.kind == "ident":
            self.advance()
            if token.text in ("true", "false"):
                return s.Literal(boolean(token.text == "true"))
            if self.accept("op", "("):
                args: tuple[s.Expr, ...] = ()
                if not self.at("op", ")"):
                    args = self.commas(self.expr)
                self.expect("op", ")")
                return s.Call(token.text, args)
            if token.text in _KEYWORDS:
                raise self.error(f"the keyword {token.text!r} cannot stand here", token)
            return s.Column(token.text)
        raise self.error(f"an expression expected, found {token.text or 'end of query'!r}")

