"""A small SOCKS4/4a/5 client: open a TCP connection to a host through a proxy.

Only the CONNECT command is needed (control connections and passive data connections);
SOCKS5 supports no authentication and username/password (RFC 1928, RFC 1929). Every wait
is bounded by the caller's timeout around :func:`open_connection`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct

__all__ = ("SocksError", "open_connection", "socks_handshake")


class SocksError(ConnectionError):
    """The proxy refused the request or spoke something that is not SOCKS."""


_SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


async def _socks5(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
) -> None:
    methods = b"\x00\x02" if username is not None else b"\x00"
    writer.write(bytes((5, len(methods))) + methods)
    await writer.drain()
    version, method = await reader.readexactly(2)
    if version != 5:
        raise SocksError(f"proxy answered SOCKS version {version}, not 5")
    if method == 2:
        user = (username or "").encode()
        secret = (password or "").encode()
        if len(user) > 255 or len(secret) > 255:
            raise SocksError("SOCKS5 username and password are limited to 255 bytes")
        writer.write(bytes((1, len(user))) + user + bytes((len(secret),)) + secret)
        await writer.drain()
        _, status = await reader.readexactly(2)
        if status != 0:
            raise SocksError("SOCKS5 proxy rejected the username or password")
    elif method != 0:
        raise SocksError("SOCKS5 proxy accepts none of the offered authentication methods")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        encoded = host.encode("idna")
        destination = bytes((3, len(encoded))) + encoded
    else:
        destination = (bytes((1,)) if address.version == 4 else bytes((4,))) + address.packed
    writer.write(b"\x05\x01\x00" + destination + struct.pack("!H", port))
    await writer.drain()
    version, reply, _, address_type = await reader.readexactly(4)
    if version != 5:
        raise SocksError(f"proxy answered SOCKS version {version}, not 5")
    if reply != 0:
        reason = _SOCKS5_REPLIES.get(reply, f"error {reply}")
        raise SocksError(f"SOCKS5 proxy could not connect to {host}:{port}: {reason}")
    if address_type == 1:
        await reader.readexactly(4 + 2)
    elif address_type == 4:
        await reader.readexactly(16 + 2)
    elif address_type == 3:
        (length,) = await reader.readexactly(1)
        await reader.readexactly(length + 2)
    else:
        raise SocksError(f"SOCKS5 proxy sent unknown address type {address_type}")


async def _socks4(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    username: str | None,
) -> None:
    user = (username or "").encode() + b"\x00"
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        # SOCKS4a: an invalid address 0.0.0.1 and the host name after the user id.
        request = struct.pack("!BBH", 4, 1, port) + b"\x00\x00\x00\x01" + user
        request += host.encode("idna") + b"\x00"
    else:
        request = struct.pack("!BBH", 4, 1, port) + address.packed + user
    writer.write(request)
    await writer.drain()
    _, status = await reader.readexactly(2)
    await reader.readexactly(6)
    if status != 0x5A:
        raise SocksError(f"SOCKS4 proxy could not connect to {host}:{port} (status {status})")


async def socks_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    *,
    version: int = 5,
    username: str | None = None,
    password: str | None = None,
) -> None:
    """Ask the proxy at the other end of *reader*/*writer* to CONNECT to *host*:*port*."""
    try:
        if version == 5:
            await _socks5(reader, writer, host, port, username, password)
        elif version == 4:
            await _socks4(reader, writer, host, port, username)
        else:
            raise ValueError(f"unsupported SOCKS version {version!r} (use 4 or 5)")
    except asyncio.IncompleteReadError as exc:
        raise SocksError("SOCKS proxy closed the connection during the handshake") from exc


async def open_connection(
    host: str,
    port: int,
    *,
    socks_host: str,
    socks_port: int,
    socks_version: int = 5,
    username: str | None = None,
    password: str | None = None,
    limit: int = 2**16,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to *host*:*port* through the SOCKS proxy at *socks_host*:*socks_port*."""
    reader, writer = await asyncio.open_connection(socks_host, socks_port, limit=limit)
    try:
        await socks_handshake(
            reader, writer, host, port, version=socks_version, username=username, password=password
        )
    except BaseException:
        writer.close()
        raise
    return reader, writer
