"""A minimal raw control-connection client for tests that need exact bytes and replies."""

from __future__ import annotations

import socket
import ssl

from anyftp.protocol.replies import Reply, ReplyParser

TIMEOUT = 10


class RawControl:
    """Send raw command lines and read complete replies (multi-line aware)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = TIMEOUT,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
        if context is not None:
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.host = host
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, line: str) -> None:
        self.send_raw(line.encode("utf-8") + b"\r\n")

    def _line(self) -> bytes | None:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def reply(self) -> Reply:
        parser = ReplyParser()
        while True:
            line = self._line()
            if line is None:
                raise ConnectionError("control connection closed")
            reply = parser.feed(line.decode("utf-8", "replace"))
            if reply is not None:
                return reply

    def command(self, line: str) -> Reply:
        self.send(line)
        return self.reply()

    def closed(self) -> bool:
        """Whether the server closed the connection (reads until EOF)."""
        try:
            return self._line() is None and not self.buffer
        except (ConnectionResetError, ssl.SSLError):
            return True

    def login(self, user: str = "anonymous", password: str = "guest") -> None:
        reply = self.command(f"USER {user}")
        if reply.code == "331":
            reply = self.command(f"PASS {password}")
        assert reply.code == "230", reply

    def pasv(self) -> tuple[str, int]:
        reply = self.command("EPSV")
        assert reply.code == "229", reply
        port = int(reply.text.split("|||")[1].split("|")[0])
        return self.host, port

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
