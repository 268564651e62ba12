"""TYPE A line-end conversion for transfers, block by block (a CR may end one block and
its LF start the next).

Files are stored with LF line ends. Sending (RETR) turns every line end into CRLF;
receiving (STOR) turns CRLF into LF and keeps a lone CR.
"""

from __future__ import annotations

__all__ = ("AsciiEncoder", "AsciiDecoder")


class _HeldCR:
    """Holds back a CR that ends a block: it may be the first half of a CRLF."""

    __slots__ = ("_pending_cr",)

    def __init__(self) -> None:
        self._pending_cr = False

    def _joined(self, data: bytes | bytearray | memoryview) -> bytes:
        """*data* after the CR held from the last block, less a CR that ends it (held)."""
        block = bytes(data)
        if self._pending_cr:
            block = b"\r" + block
            self._pending_cr = False
        if block.endswith(b"\r"):
            block = block[:-1]
            self._pending_cr = True
        return block

    def flush(self) -> bytes:
        """The CR still held at the end of the data (a lone CR), if any."""
        if self._pending_cr:
            self._pending_cr = False
            return b"\r"
        return b""


class AsciiEncoder(_HeldCR):
    """Storage -> network: LF and CRLF become CRLF."""

    __slots__ = ()

    def encode(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._joined(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class AsciiDecoder(_HeldCR):
    """Network -> storage: CRLF becomes LF."""

    __slots__ = ()

    def decode(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._joined(data).replace(b"\r\n", b"\n")
