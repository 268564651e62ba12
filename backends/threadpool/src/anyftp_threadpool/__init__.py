"""anyftp backend ``threadpool``: the local disk, every call run in a thread pool
(aioftp's AsyncPathIO).

Published under the ``anyftp.backends`` entry point ``threadpool``; the class is imported only
when the backend is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry

__all__ = ("AsyncPathIO",)


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import AsyncPathIO

    registry.register("threadpool", AsyncPathIO)


def __getattr__(name: str) -> object:
    if name == "AsyncPathIO":
        from .pathio import AsyncPathIO

        return AsyncPathIO
    raise AttributeError(name)
