"""anyftp backend ``local``: the local disk, with blocking calls on the event loop
(aioftp's PathIO).

Published under the ``anyftp.backends`` entry point ``local``; the class is imported only
when the backend is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry

__all__ = ("PathIO",)


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import PathIO

    registry.register("local", PathIO)


def __getattr__(name: str) -> object:
    if name == "PathIO":
        from .pathio import PathIO

        return PathIO
    raise AttributeError(name)
