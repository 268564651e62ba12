"""Data-connection addresses: PASV (227), EPSV (229), PORT and EPRT arguments.

All functions are pure and raise ValueError on malformed input.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = (
    "format_pasv", "parse_pasv", "format_epsv", "parse_epsv",
    "format_port", "parse_port", "format_eprt", "parse_eprt", "is_unroutable",
)

# Bounded by non-digits, so "(1234,0,...)" is not read as "234,0,...".
_PASV_RE = re.compile(
    r"(?<!\d)(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})(?!\d)"
)
_EPSV_RE = re.compile(r"\((.)\1\1(\d+)\1\)")


def _check_port(port: int) -> int:
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return port


def format_pasv(host: str, port: int) -> str:
    """Text of a 227 reply: ``Entering Passive Mode (h1,h2,h3,h4,p1,p2).``"""
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is None:
            raise ValueError("PASV needs an IPv4 address; use EPSV over IPv6")
        address = mapped
    numbers = str(address).replace(".", ",")
    return f"Entering Passive Mode ({numbers},{port >> 8},{port & 0xFF})."


def _host_port_from_numbers(numbers: tuple[str, ...]) -> tuple[str, int]:
    values = [int(n) for n in numbers]
    if any(v > 255 for v in values):
        raise ValueError(f"number above 255 in {numbers}")
    host = ".".join(str(v) for v in values[:4])
    return host, _check_port(values[4] * 256 + values[5])


def parse_pasv(text: str) -> tuple[str, int]:
    """Host and port from a 227 reply text."""
    match = _PASV_RE.search(text)
    if not match:
        raise ValueError(f"no address in PASV reply {text!r}")
    return _host_port_from_numbers(match.groups())


def format_epsv(port: int) -> str:
    """Text of a 229 reply: ``Entering Extended Passive Mode (|||port|)``."""
    return f"Entering Extended Passive Mode (|||{_check_port(port)}|)"


def parse_epsv(text: str) -> int:
    """Port from a 229 reply text."""
    match = _EPSV_RE.search(text)
    if not match:
        raise ValueError(f"no port in EPSV reply {text!r}")
    return _check_port(int(match.group(2)))


def format_port(host: str, port: int) -> str:
    """Argument of a PORT command."""
    address = ipaddress.IPv4Address(host)
    return f"{str(address).replace('.', ',')},{port >> 8},{port & 0xFF}"


def parse_port(argument: str) -> tuple[str, int]:
    """Host and port from a PORT argument ``h1,h2,h3,h4,p1,p2``."""
    parts = tuple(p.strip() for p in argument.split(","))
    if len(parts) != 6 or not all(p.isdigit() for p in parts):
        raise ValueError(f"malformed PORT argument {argument!r}")
    return _host_port_from_numbers(parts)


def format_eprt(host: str, port: int) -> str:
    """Argument of an EPRT command: ``|1|h.h.h.h|port|`` or ``|2|v6|port|``."""
    address = ipaddress.ip_address(host)
    family = 1 if address.version == 4 else 2
    return f"|{family}|{address}|{_check_port(port)}|"


def parse_eprt(argument: str) -> tuple[int, str, int]:
    """``(family, host, port)`` from an EPRT argument; family is 1 (IPv4) or 2 (IPv6)."""
    if len(argument) < 7:
        raise ValueError(f"malformed EPRT argument {argument!r}")
    delim = argument[0]
    parts = argument.split(delim)
    if len(parts) != 5 or parts[0] or parts[4]:
        raise ValueError(f"malformed EPRT argument {argument!r}")
    family_text, host, port_text = parts[1], parts[2], parts[3]
    if family_text not in ("1", "2"):
        raise ValueError(f"unsupported network protocol {family_text!r}")
    family = int(family_text)
    address = ipaddress.ip_address(host)
    if address.version != (4 if family == 1 else 6):
        raise ValueError(f"address {host!r} does not match protocol {family}")
    if not port_text.isdigit():
        raise ValueError(f"malformed port {port_text!r}")
    return family, str(address), _check_port(int(port_text))


def is_unroutable(host: str) -> bool:
    """True for addresses a client can not reach as given (0.0.0.0, private when the
    control connection is public, ...): the client then uses the control host."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    if address.is_loopback:  # ::1 lies in ::/8, which ipaddress calls reserved
        return False
    return address.is_unspecified or address.is_reserved or address.is_multicast
