"""anyftp backend ``extdemo``: files in a dict (a third-party backend for anyftp's tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import DictPathIO

    registry.register("extdemo", DictPathIO)
