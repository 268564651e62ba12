"""The ``anyftp`` command line: one sub-command module per area.

Each module under :mod:`anyftp.cli` that defines ``register(subparsers)`` adds its
sub-commands (``serve`` for the server; ``ls``/``get``/``put``/... for the client;
``plugins`` for listing plugins). A sub-command's handler returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__

#: Modules that contribute sub-commands, in help order. A module that is missing
#: (not yet written, or trimmed by a packager) is skipped.
COMMAND_MODULES = ("serve", "client", "plugins")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anyftp", description="asyncio FTP/FTPS server and client with pluggable storage")
    parser.add_argument("--version", action="version", version=f"anyftp {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    status: int = handler(args)
    return status
