"""Errors raised while turning a URL into an fsspec filesystem.

Both say what to install, so ``anyftp serve --backend fsspec --url gcs://...`` on a machine
without ``gcsfs`` fails at start-up with a message a user can act on.
"""

from __future__ import annotations

from anyftp.errors import BackendError

__all__ = ("MissingImplementation", "UnknownProtocol")


class UnknownProtocol(BackendError, ValueError):
    """No fsspec implementation is known for the URL's protocol."""

    def __init__(self, protocol: str, url: str, known: list[str]) -> None:
        listed = ", ".join(known)
        super().__init__(
            f"fsspec knows no protocol {protocol!r} (from URL {url!r}): check the URL, or "
            f"pip install the package that implements {protocol!r} for fsspec (such "
            f"packages register it under the 'fsspec.specs' entry-point group). "
            f"Protocols fsspec knows: {listed}"
        )
        self.protocol = protocol
        self.url = url


class MissingImplementation(BackendError, ImportError):
    """The protocol is known but the package implementing it is not installed."""

    def __init__(self, protocol: str, url: str, hint: str, package: str | None) -> None:
        message = f"protocol {protocol!r} (from URL {url!r}) is not available: {hint}"
        if package:
            message += f"; install it with: pip install {package}"
        super().__init__(message)
        self.protocol = protocol
        self.url = url
        self.package = package
