"""anyftp backend ``fsspec``: any fsspec filesystem by URL.

Published under the ``anyftp.backends`` entry point ``fsspec``; the class is imported only
when the backend is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry

__all__ = ("FsspecPathIO",)


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import FsspecPathIO

    registry.register("fsspec", FsspecPathIO)


def __getattr__(name: str) -> object:
    if name == "FsspecPathIO":
        from .pathio import FsspecPathIO

        return FsspecPathIO
    raise AttributeError(name)
