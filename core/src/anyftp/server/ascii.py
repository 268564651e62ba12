"""TYPE A line-end conversion for transfers, block by block (a CR may end one block and
its LF start the next).

Files are stored with LF line ends. Sending (RETR) turns every line end into CRLF;
receiving (STOR) turns CRLF into LF and keeps a lone CR.
"""

from __future__ import annotations

__all__ = ("AsciiEncoder", "AsciiDecoder")


class AsciiEncoder:
    """Storage -> network: LF and CRLF become CRLF."""

    __slots__ = ("_pending_cr",)

    def __init__(self) -> None:
        self._pending_cr = False

    def encode(self, data: bytes | bytearray | memoryview) -> bytes:
        block = bytes(data)
        if self._pending_cr:
            block = b"\r" + block
            self._pending_cr = False
        if block.endswith(b"\r"):
            block = block[:-1]
            self._pending_cr = True
        return block.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def flush(self) -> bytes:
        if self._pending_cr:
            self._pending_cr = False
            return b"\r"
        return b""


class AsciiDecoder:
    """Network -> storage: CRLF becomes LF."""

    __slots__ = ("_pending_cr",)

    def __init__(self) -> None:
        self._pending_cr = False

    def decode(self, data: bytes | bytearray | memoryview) -> bytes:
        block = bytes(data)
        if self._pending_cr:
            block = b"\r" + block
            self._pending_cr = False
        if block.endswith(b"\r"):
            block = block[:-1]
            self._pending_cr = True
        return block.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        return self.encode_tail()

    def encode_tail(self) -> bytes:
        if self._pending_cr:
            self._pending_cr = False
            return b"\r"
        return b""
