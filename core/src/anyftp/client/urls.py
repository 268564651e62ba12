"""``ftp://`` and ``ftps://`` URLs: what the command line takes to name a server and path.

``ftp://user:password@host:port/path``; user and password are percent-decoded and default
to anonymous. ``ftps://`` means explicit FTPS (AUTH TLS) on port 21, or implicit TLS when
the port is 990 (or ``implicit_tls`` is asked for). As in RFC 1738 (and curl), the path is
relative to the login directory: ``ftp://host/pub/a`` is ``pub/a``, while
``ftp://host//pub/a`` or ``ftp://host/%2Fpub/a`` is ``/pub/a``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from ..common import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER

__all__ = ("FTPURL", "parse_url", "IMPLICIT_TLS_PORT")

IMPLICIT_TLS_PORT = 990


@dataclass(frozen=True)
class FTPURL:
    """A parsed FTP URL."""

    scheme: str
    host: str
    port: int
    user: str
    password: str
    path: str
    #: "explicit", "implicit" or None (plain FTP).
    tls: str | None

    def with_path(self, path: str) -> FTPURL:
        return FTPURL(self.scheme, self.host, self.port, self.user, self.password, path, self.tls)

    def display(self) -> str:
        """The URL without the password."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = "" if self.user == DEFAULT_USER else urllib.parse.quote(self.user) + "@"
        path = self.path if self.path.startswith("/") else "/" + self.path
        return f"{self.scheme}://{user}{host}:{self.port}{path}"


def parse_url(text: str, *, implicit_tls: bool = False) -> FTPURL:
    """Parse *text*; ValueError names what is wrong."""
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("ftp", "ftps"):
        raise ValueError(f"not an ftp:// or ftps:// URL: {text!r}")
    if not parts.hostname:
        raise ValueError(f"no host in URL {text!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in URL {text!r}") from exc
    tls: str | None = None
    if scheme == "ftps":
        implicit = implicit_tls or port == IMPLICIT_TLS_PORT
        tls = "implicit" if implicit else "explicit"
        if port is None:
            port = IMPLICIT_TLS_PORT if implicit else DEFAULT_PORT
    if port is None:
        port = DEFAULT_PORT
    user = urllib.parse.unquote(parts.username) if parts.username else DEFAULT_USER
    if parts.password is not None:
        password = urllib.parse.unquote(parts.password)
    else:
        password = DEFAULT_PASSWORD
    raw_path = parts.path[1:] if parts.path.startswith("/") else parts.path
    path = urllib.parse.unquote(raw_path)
    if "\r" in path or "\n" in path or "\x00" in path:
        raise ValueError("CR, LF or NUL in the URL path")
    return FTPURL(scheme, parts.hostname, port, user, password, path, tls)
