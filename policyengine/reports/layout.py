"""Text laid out for a terminal of a given width: columns whose last one wraps, paragraphs, and
shell commands broken where a shell would join them again.

Widths count characters (``len``): the text here has passed through
:func:`~policyengine.reports.common.terminal`, so it holds no escape sequence; colour is added
after the layout, around text already padded.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Sequence

#: Narrower than this, a layout would be all wrapping: the text is laid out at this width.
NARROWEST = 60
#: Wider than this, lines get too long to read: prose stops here.
WIDEST = 160


def terminal_width() -> int:
    """The width to lay the report out at: ``COLUMNS`` if set, else the terminal's, else 80
    (:func:`shutil.get_terminal_size` asks in that order), kept within [NARROWEST, WIDEST]."""
    columns = shutil.get_terminal_size((80, 24)).columns or 80
    return max(NARROWEST, min(WIDEST, columns))


def wrap(text: str, width: int, indent: str = "", hanging: str | None = None) -> list[str]:
    """``text`` wrapped at spaces to ``width``. A word longer than a line (a resource id, a
    path) stands whole on a line of its own: cut, it could no longer be copied or searched for."""
    later = indent if hanging is None else hanging
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width, initial_indent=indent if not lines else later,
                               subsequent_indent=later, break_long_words=False,
                               break_on_hyphens=False) or [indent.rstrip()]
    return lines


def shell_words(command: str) -> list[str]:
    """``command`` split where a POSIX shell splits it, each word as written (quotes and
    escapes kept): breaking a line between two of them changes nothing once pasted."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    chars = iter(command)
    for char in chars:
        if quote:
            word.append(char)
            if char == "\\" and quote == '"':
                word.append(next(chars, ""))
            elif char == quote:
                quote = ""
        elif char in " \t":
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(char)
            if char == "\\":
                word.append(next(chars, ""))
            elif char in "'\"":
                quote = char
    if word:
        words.append("".join(word))
    return words


def wrap_command(command: str, width: int, first: str = "", indent: str = "    ") -> list[str]:
    """A shell command on lines of at most ``width`` where it can be, the first starting with
    ``first`` and the others with ``indent``: each line but the last ends in `` \\``, so the
    lines pasted into a shell are the same command. A word wider than a line (a long URL)
    stands whole on its own line."""
    lines: list[str] = []
    line, empty = first, True
    groups: list[str] = []
    for group in _groups(shell_words(command)):
        # An option whose value would not fit beside it on a line of its own goes on two.
        if group.startswith("-") and len(indent) + len(group) + 2 > width:
            groups += group.split(" ", 1)
        else:
            groups.append(group)
    for word in groups:
        if not empty and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = indent + word
        else:
            line = line + ("" if empty else " ") + word
        empty = False
    lines.append(line)
    return lines


def _groups(words: list[str]) -> list[str]:
    """Words that read as one kept on one line: an option and its value (``--name x``), and
    ``&&`` or ``|`` with the command after it."""
    groups: list[str] = []
    for word in words:
        last = groups[-1] if groups else ""
        option = last.startswith("-") and " " not in last and not word.startswith("-")
        joins = last in ("&&", "||", "|", ";") or option
        if joins:
            groups[-1] += " " + word
        else:
            groups.append(word)
    return groups


def natural_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width with nothing wrapped: its widest cell, header included."""
    return [max([len(h)] + [len(r[c]) for r in rows]) for c, h in enumerate(headers)]


def columns(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, *, flex: int,
            right: Sequence[int] = (), paint: Callable[[int, int, str], str] | None = None) -> list[str]:
    """``rows`` under ``headers``, two spaces between columns, fitted to ``width`` by wrapping
    column ``flex`` (the others keep their natural width); ``right`` are right-aligned.
    ``paint(row, column, padded)`` colours a cell after it is padded (row -1: the headers)."""
    count = len(headers)
    natural = natural_widths(headers, rows)
    fixed = sum(w for c, w in enumerate(natural) if c != flex) + 2 * (count - 1)
    natural[flex] = max(len(headers[flex]), min(natural[flex], max(width - fixed, 12)))

    def line(cells: Sequence[list[str]], number: int) -> list[str]:
        out = []
        for at in range(max(len(c) for c in cells)):
            parts = []
            for c, cell in enumerate(cells):
                text = cell[at] if at < len(cell) else ""
                padded = text.rjust(natural[c]) if c in right else text.ljust(natural[c])
                parts.append(paint(number, c, padded) if paint and text else padded)
            out.append("  ".join(parts).rstrip())
        return out

    out = line([[h] for h in headers], -1)
    out.append("  ".join("-" * w for w in natural))
    for number, row in enumerate(rows):
        cells = [wrap(text, natural[c]) if c == flex else [text] for c, text in enumerate(row)]
        out += line(cells, number)
    return out


def row_lines(table: Sequence[str]) -> list[list[str]]:
    """The lines of a :func:`columns` table after its header, grouped by row: a row whose
    first cell is never empty starts at a line that does not start with a space, and the
    lines of its wrapped cell follow."""
    rows: list[list[str]] = []
    for line in table[2:]:
        if rows and line[:1] == " ":
            rows[-1].append(line)
        else:
            rows.append([line])
    return rows
