"""anyftp backend ``example``: TEMPLATE - one line on what storage it reaches.

Published under the ``anyftp.backends`` entry point ``example``. anyftp imports this
module only when the backend is selected, so keep it light: the class (and its storage
client library) are imported inside the hook and the module ``__getattr__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyftp.hookspecs import hookimpl

if TYPE_CHECKING:
    from anyftp.registry import BackendRegistry

__all__ = ("ExamplePathIO",)


@hookimpl
def anyftp_register_backends(registry: BackendRegistry) -> None:
    from .pathio import ExamplePathIO

    registry.register("example", ExamplePathIO)  # TEMPLATE: the entry-point name


def __getattr__(name: str) -> object:
    if name == "ExamplePathIO":
        from .pathio import ExamplePathIO

        return ExamplePathIO
    raise AttributeError(name)
