"""Tokens of the KQL subset: identifiers, string and number literals, operators.

String literals follow "The string data type"
(https://learn.microsoft.com/kusto/query/scalar-data-types/string): double or single quotes,
backslash escapes of the quotes, the backslash, ``\\t`` and ``\\n`` (and ``\\r`` and
``\\uXXXX``, which Microsoft's parser reads too); a raw line break inside a literal is an
error. Verbatim (``@"..."``) and multi-line literals are outside the subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.kqloracle.values import INT64, OracleError


class KqlSyntaxError(OracleError):
    """Text the oracle's parser does not accept; the message gives line and column."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident | string | long | real | op | eof
    text: str
    value: Any
    pos: int


_OPERATORS = ("!in~", "!in", "==", "!=", "=~", "!~", "<=", ">=", "|", "(", ")", "[", "]", ",",
              ".", "=", "<", ">", "+", "-", "*", "/", "%", "!", "~", ";")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


def where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{col}"


def _ident_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        char = text[pos]
        if char in " \t\r\n":
            pos += 1
        elif text.startswith("//", pos):
            newline = text.find("\n", pos)
            pos = end if newline < 0 else newline
        elif char in "\"'":
            token, pos = _string(text, pos)
            tokens.append(token)
        elif char.isascii() and char.isdigit():
            token, pos = _number(text, pos)
            tokens.append(token)
        elif char.isascii() and (char.isalpha() or char == "_"):
            start = pos
            while pos < end and _ident_char(text[pos]):
                pos += 1
            word = text[start:pos]
            if word == "in" and text.startswith("~", pos):
                tokens.append(Token("op", "in~", "in~", start))
                pos += 1
            else:
                tokens.append(Token("ident", word, word, start))
        else:
            for op in _OPERATORS:
                if text.startswith(op, pos):
                    # "!in" is an operator only as a whole word ("!inside" is not).
                    if op == "!in" and pos + 3 < end and _ident_char(text[pos + 3]):
                        continue
                    tokens.append(Token("op", op, op, pos))
                    pos += len(op)
                    break
            else:
                raise KqlSyntaxError(f"{where(text, pos)}: unexpected character {char!r}")
    tokens.append(Token("eof", "", None, end))
    return tokens


def _string(text: str, start: int) -> tuple[Token, int]:
    quote = text[start]
    out: list[str] = []
    pos = start + 1
    while True:
        if pos >= len(text):
            raise KqlSyntaxError(f"{where(text, start)}: unterminated string literal")
        char = text[pos]
        if char == quote:
            return Token("string", text[start:pos + 1], "".join(out), start), pos + 1
        if char in "\r\n":
            raise KqlSyntaxError(f"{where(text, pos)}: a line break inside a string literal must be escaped")
        if char != "\\":
            out.append(char)
            pos += 1
            continue
        escape = text[pos + 1:pos + 2]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            pos += 2
        elif escape == "u":
            digits = text[pos + 2:pos + 6]
            if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise KqlSyntaxError(f"{where(text, pos)}: \\u needs four hexadecimal digits")
            out.append(chr(int(digits, 16)))
            pos += 6
        else:
            raise KqlSyntaxError(f"{where(text, pos)}: escape \\{escape} is outside the oracle's subset")


def _number(text: str, start: int) -> tuple[Token, int]:
    pos = start
    end = len(text)
    while pos < end and text[pos].isdigit():
        pos += 1
    is_real = False
    if pos < end and text[pos] == "." and pos + 1 < end and text[pos + 1].isdigit():
        is_real = True
        pos += 1
        while pos < end and text[pos].isdigit():
            pos += 1
    if pos < end and text[pos] in "eE":
        mark = pos + 1
        if mark < end and text[mark] in "+-":
            mark += 1
        if mark < end and text[mark].isdigit():
            is_real = True
            pos = mark
            while pos < end and text[pos].isdigit():
                pos += 1
    if pos < end and _ident_char(text[pos]):
        # 1d, 10ms, 0x1F: timespan and hexadecimal literals are outside the subset.
        raise KqlSyntaxError(f"{where(text, start)}: literal {text[start:pos + 1]!r}... is outside the oracle's subset")
    literal = text[start:pos]
    if is_real:
        return Token("real", literal, float(literal), start), pos
    number = int(literal)
    if number > INT64:  # INT64 itself is allowed only after a minus sign (the parser checks)
        raise KqlSyntaxError(f"{where(text, start)}: {literal} is out of the range of long")
    return Token("long", literal, number, start), pos
