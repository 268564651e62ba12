"""anyftp backend ``s3``: an S3 bucket through aiobotocore.

Published under the ``anyftp.backends`` entry point ``s3``; the class is imported only
when the backend is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry

__all__ = ("S3PathIO",)


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import S3PathIO

    registry.register("s3", S3PathIO)


def __getattr__(name: str) -> object:
    if name == "S3PathIO":
        from .pathio import S3PathIO

        return S3PathIO
    raise AttributeError(name)
