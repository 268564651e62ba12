"""A small blocking FTP control client that shows exact bytes and replies.

ftplib hides what a hostile or broken client does; these tests need to send partial
lines, stop reading, cut connections at chosen moments and read each reply's code.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
from dataclasses import dataclass

TIMEOUT = 10.0

# SO_LINGER on with a zero time: close() sends RST instead of FIN.
_LINGER_RESET = struct.pack("ii", 1, 0)

_FIRST = re.compile(rb"^(\d{3})([ -])")


@dataclass(frozen=True)
class Reply:
    code: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Closed(ConnectionError):
    """The server closed the control connection before a complete reply."""


class RawClient:
    """One control connection: ``send``/``command``/``reply`` with exact bytes."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.timeout = timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host)
        self.sock: socket.socket = sock
        self._buffer = b""

    # --- sending -------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, line: str) -> None:
        self.send_raw(line.encode("utf-8", "surrogateescape") + b"\r\n")

    def command(self, line: str) -> Reply:
        self.send(line)
        return self.reply()

    # --- receiving -----------------------------------------------------------------------

    def _read_line(self) -> bytes:
        while b"\n" not in self._buffer:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError) as exc:
                raise Closed(str(exc)) from exc
            if not chunk:
                raise Closed("control connection closed")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def reply(self) -> Reply:
        """The next complete reply (multi-line replies are joined)."""
        first = self._read_line()
        match = _FIRST.match(first)
        if match is None:
            raise AssertionError(f"not a reply line: {first!r}")
        code = match.group(1)
        lines = [first.decode("utf-8", "replace")]
        if match.group(2) == b"-":
            end = code + b" "
            while True:
                line = self._read_line()
                lines.append(line.decode("utf-8", "replace"))
                if line.startswith(end):
                    break
        return Reply(code.decode(), tuple(lines))

    def closed_by_server(self) -> bool:
        """Read until EOF; True when the server closed (replies before that are dropped)."""
        try:
            while True:
                self._read_line()
        except Closed:
            return True
        except TimeoutError:
            return False

    # --- conveniences ----------------------------------------------------------------------

    def welcome(self) -> Reply:
        return self.reply()

    def login(self, user: str = "anonymous", password: str = "guest") -> None:
        reply = self.command(f"USER {user}")
        if reply.code == "331":
            reply = self.command(f"PASS {password}")
        assert reply.code == "230", reply

    def epsv(self) -> int:
        reply = self.command("EPSV")
        assert reply.code == "229", reply
        return int(reply.text.split("|||")[1].split("|")[0])

    def data_socket(self) -> socket.socket:
        """An EPSV data connection (connected, not yet used by a command)."""
        port = self.epsv()
        return socket.create_connection((self.host, port), timeout=self.timeout)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def abort_connection(self) -> None:
        """Close with a TCP reset (no FIN): the rudest disconnect."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except OSError:
            pass
        self.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reset(sock: socket.socket) -> None:
    """Close *sock* with a TCP reset."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    except OSError:
        pass
    sock.close()
