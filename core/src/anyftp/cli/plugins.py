"""``anyftp plugins``: what is installed (backends and server plugins), and the
sub-commands plugins add to ``anyftp``.

A plugin distribution may publish a module under the entry-point group ``anyftp.cli``
(see :data:`anyftp.plugins.CLI_GROUP`); its ``register(subparsers)`` adds sub-commands,
the way ``anyftp-users`` adds ``anyftp users add/passwd/del``. Only that small module is
imported when ``anyftp`` starts, never the plugin itself; a blocked name is skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import inspect
import json
import sys
from typing import Any

from .. import hookspecs
from ..plugins import CLI_GROUP
from ..registry import BACKENDS_GROUP, BLOCK_ENV, PLUGINS_GROUP, blocked_plugins

__all__ = ("register", "run", "InstalledPlugin", "installed_plugins", "HOOK_KINDS")

#: Hook name -> the kind of plugin implementing it.
HOOK_KINDS = {
    "anyftp_register_backends": "backend",
    "anyftp_authenticate": "auth",
    "anyftp_event": "events",
    "anyftp_command_done": "events",
    "anyftp_register_commands": "commands",
}


@dataclasses.dataclass(frozen=True)
class InstalledPlugin:
    """One installed entry point."""

    name: str
    group: str
    kind: str
    version: str | None
    distribution: str | None
    blocked: bool
    error: str | None = None


def installed_plugins(*, inspect_modules: bool = True) -> list[InstalledPlugin]:
    """Every installed backend and server plugin, blocked ones included (marked).

    With *inspect_modules*, unblocked server plugins are imported to tell their kind
    (``auth``, ``events``, ``commands``) from the hooks they implement, in the module and
    in the classes it defines.
    """
    blocked = blocked_plugins()
    found: list[InstalledPlugin] = []
    for group in (BACKENDS_GROUP, PLUGINS_GROUP):
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=group):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            kind = "backend" if group == BACKENDS_GROUP else "plugin"
            error = None
            if group == PLUGINS_GROUP and inspect_modules and ep.name not in blocked:
                try:
                    kind = kind_of(ep.load()) or kind
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
            dist = ep.dist
            found.append(
                InstalledPlugin(
                    name=ep.name,
                    group=group,
                    kind=kind,
                    version=None if dist is None else dist.version,
                    distribution=None if dist is None else dist.metadata["Name"],
                    blocked=ep.name in blocked,
                    error=error,
                )
            )
    return sorted(found, key=lambda p: (p.group != BACKENDS_GROUP, p.name))


def kind_of(plugin: object) -> str:
    """``"auth,events"``...: the kinds of the hooks *plugin* implements."""
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    holders: list[Any] = [plugin]
    if inspect.ismodule(plugin):
        holders += [value for value in vars(plugin).values() if inspect.isclass(value)]
    else:
        holders.append(type(plugin))
    hooks = {
        attribute
        for holder in holders
        for attribute, value in vars(holder).items()
        if hasattr(value, marker)
    }
    return ",".join(sorted({HOOK_KINDS[h] for h in hooks if h in HOOK_KINDS}))


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plugins",
        help="list installed storage backends and server plugins",
        description="List installed storage backends and server plugins: name, version, "
        f"kind. Names in {BLOCK_ENV} are shown as blocked.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)
    _register_plugin_commands(subparsers)


def _register_plugin_commands(subparsers: Any) -> None:
    blocked = blocked_plugins()
    seen: set[str] = set()
    for ep in importlib.metadata.entry_points(group=CLI_GROUP):
        if ep.name in seen or ep.name in blocked:
            continue
        seen.add(ep.name)
        try:
            ep.load().register(subparsers)
        except Exception as exc:  # a broken plugin must not break the command line
            print(f"anyftp: warning: plugin command {ep.name!r} not loaded: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    found = installed_plugins()
    if args.json:
        print(json.dumps([dataclasses.asdict(p) for p in found], indent=2))
        return 0
    rows = [("NAME", "VERSION", "KIND", "DISTRIBUTION", "STATUS")]
    for p in found:
        if p.blocked:
            status = f"blocked ({BLOCK_ENV})"
        elif p.error:
            status = f"broken: {p.error}"
        else:
            status = "selected by name" if p.group == BACKENDS_GROUP else "enabled by name"
        rows.append((p.name, p.version or "-", p.kind, p.distribution or "-", status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return 0
