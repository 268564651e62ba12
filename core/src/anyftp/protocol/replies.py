"""FTP reply codes and replies: formatting (RFC 959 section 4.2) and incremental parsing.

A reply is a code and one or more lines. On the wire a one-line reply is ``"200 text"``;
a multi-line one opens with ``"211-text"`` and ends with ``"211 text"``. Lines between
that could be mistaken for the end (they start with three digits and a space) are sent
with a leading space, as RFC 959 recommends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InvalidCommand

__all__ = ("Code", "Reply", "ReplyParser", "format_reply", "quote_path", "unquote_path")


class Code(str):
    """A three-character reply code that can match masks such as ``"2xx"``."""

    def matches(self, mask: str) -> bool:
        return all(m == c or m == "x" for m, c in zip(mask, self, strict=False))


@dataclass
class Reply:
    """A complete reply: its code and its text lines (code prefixes removed)."""

    code: Code
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _is_code(text: str) -> bool:
    return len(text) >= 3 and text[:3].isdigit()


def format_reply(code: str, lines: str | Iterable[str] = "") -> str:
    """The wire text (with CRLF line ends) of a reply."""
    if isinstance(lines, str):
        lines = lines.split("\n") if lines else [""]
    items = [line.rstrip("\r") for line in lines] or [""]
    for item in items:
        if "\r" in item or "\x00" in item:
            raise InvalidCommand(f"reply line holds CR or NUL: {item!r}")
    if len(items) == 1:
        return f"{code} {items[0]}\r\n"
    out = [f"{code}-{items[0]}\r\n"]
    for item in items[1:-1]:
        if _is_code(item) or not item.startswith(" "):
            item = " " + item
        out.append(item + "\r\n")
    out.append(f"{code} {items[-1]}\r\n")
    return "".join(out)


class ReplyParser:
    """Feed decoded reply lines one at a time; :meth:`feed` returns a Reply when complete.

    Raises ValueError for a first line that does not start with a code.
    """

    __slots__ = ("_code", "_lines")

    def __init__(self) -> None:
        self._code: str | None = None
        self._lines: list[str] = []

    def feed(self, line: str) -> Reply | None:
        line = line.rstrip("\r\n")
        if self._code is None:
            if not _is_code(line) or (len(line) > 3 and line[3] not in " -"):
                raise ValueError(f"malformed reply line {line!r}")
            code = line[:3]
            if len(line) > 3 and line[3] == "-":
                self._code = code
                self._lines = [line[4:]]
                return None
            return Reply(Code(code), [line[4:]])
        if line[:3] == self._code and len(line) >= 3 and (len(line) == 3 or line[3] == " "):
            self._lines.append(line[4:])
            reply = Reply(Code(self._code), self._lines)
            self._code = None
            self._lines = []
            return reply
        self._lines.append(line[1:] if line.startswith(" ") else line)
        return None


def quote_path(path: str) -> str:
    """``"path"`` with embedded double quotes doubled (RFC 959 257 replies)."""
    return '"' + path.replace('"', '""') + '"'


def unquote_path(text: str) -> str:
    """The path inside a 257 reply's text; ValueError if there is none."""
    start = text.find('"')
    if start < 0:
        raise ValueError(f"no quoted path in {text!r}")
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if i + 1 < len(text) and text[i + 1] == '"':
                out.append('"')
                i += 2
                continue
            return "".join(out)
        out.append(ch)
        i += 1
    raise ValueError(f"unterminated quoted path in {text!r}")
