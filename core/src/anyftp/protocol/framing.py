"""Line framing for the control connection, bounded in length.

:class:`LineBuffer` turns a byte stream into lines; a line longer than ``max_length``
raises :class:`~anyftp.errors.InvalidCommand` instead of growing memory.
:func:`parse_command` splits a received line into ``(COMMAND, argument)``.
"""

from __future__ import annotations

import re

from ..errors import InvalidCommand

__all__ = ("LineBuffer", "parse_command", "strip_telnet", "check_argument", "MAX_LINE_LENGTH")

#: Longest command line accepted (RFC 959 sets none; real paths stay far below this).
MAX_LINE_LENGTH = 8192

_IAC = 0xFF
_FORBIDDEN = re.compile(b"[\x00\r\n]")


def strip_telnet(line: bytes) -> bytes:
    """Remove telnet IAC sequences (clients send ``IAC IP IAC DM`` before ABOR)."""
    if _IAC not in line:
        return line
    out = bytearray()
    i = 0
    n = len(line)
    while i < n:
        byte = line[i]
        if byte != _IAC:
            out.append(byte)
            i += 1
            continue
        if i + 1 < n and line[i + 1] == _IAC:  # escaped 0xFF data byte
            out.append(_IAC)
            i += 2
        elif i + 1 < n and line[i + 1] in (0xFB, 0xFC, 0xFD, 0xFE):  # WILL/WONT/DO/DONT opt
            i += 3
        else:  # IP, DM, AYT, ... : two-byte command
            i += 2
    return bytes(out)


class LineBuffer:
    """Accumulates bytes and yields complete lines without their line ending.

    Lines end with LF (CR before it is dropped). Holding more than ``max_length`` bytes
    without a line end raises InvalidCommand; the caller should reply 500 and close.
    """

    __slots__ = ("_buffer", "max_length")

    def __init__(self, max_length: int = MAX_LINE_LENGTH) -> None:
        self._buffer = bytearray()
        self.max_length = max_length

    def feed(self, data: bytes) -> list[bytes]:
        if data and not self._buffer and data.find(b"\n") == len(data) - 1:
            # One whole line, the common case: no copy through the buffer.
            line = data[:-2] if data.endswith(b"\r\n") else data[:-1]
            if len(line) > self.max_length:
                raise InvalidCommand(f"line longer than {self.max_length} bytes")
            return [line]
        self._buffer += data
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_length:  # the limit is on the line without its CRLF
                raise InvalidCommand(f"line longer than {self.max_length} bytes")
            lines.append(line)
        pending = len(self._buffer) - (1 if self._buffer.endswith(b"\r") else 0)
        if pending > self.max_length:
            raise InvalidCommand(f"line longer than {self.max_length} bytes")
        return lines

    @property
    def pending(self) -> int:
        return len(self._buffer)


def parse_command(line: bytes, encoding: str = "utf-8") -> tuple[str, str]:
    """Split a command line into the upper-cased command and its argument.

    Telnet codes are removed; a trailing CR is dropped; the argument keeps inner
    spaces (file names may hold them). Undecodable bytes and NUL raise InvalidCommand.
    """
    if _IAC in line:
        line = strip_telnet(line)
    line = line.rstrip(b"\r\n")
    if _FORBIDDEN.search(line) is not None:
        raise InvalidCommand("NUL, CR or LF inside the command line")
    try:
        text = line.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InvalidCommand(f"command line is not valid {encoding}") from exc
    command, _, argument = text.lstrip().partition(" ")
    return command.upper(), argument


def check_argument(value: str) -> str:
    """Refuse CR, LF and NUL inside a value that will go out on the control connection."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise InvalidCommand(f"CR, LF or NUL inside {value!r}")
    return value
