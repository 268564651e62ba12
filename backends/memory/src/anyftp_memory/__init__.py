"""anyftp backend ``memory``: an in-memory tree (aioftp's MemoryPathIO).

Published under the ``anyftp.backends`` entry point ``memory``; the class is imported only
when the backend is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry

__all__ = ("MemoryPathIO",)


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import MemoryPathIO

    registry.register("memory", MemoryPathIO)


def __getattr__(name: str) -> object:
    if name == "MemoryPathIO":
        from .pathio import MemoryPathIO

        return MemoryPathIO
    raise AttributeError(name)
