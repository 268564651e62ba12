"""pluggy hook specifications: the contract between anyftp and its plugins.

Every hook is named ``anyftp_*`` and marked with the ``anyftp`` project name. A plugin is
a module (or object) with functions decorated by :data:`hookimpl`, published under an
entry point:

* group ``anyftp.backends`` - the entry-point *name* is the backend's name (``local``,
  ``memory``, ``s3``...), the value a module implementing :func:`anyftp_register_backends`.
  It is imported only when that backend is selected.
* group ``anyftp.plugins`` - server plugins (authentication sources, event sinks, extra
  commands), loaded when enabled by name.

Plugins named in the ``ANYFTP_BLOCK_PLUGINS`` environment variable (comma separated) are
never loaded. A module that implements a hook not declared here fails to register, loudly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .registry import BackendRegistry

PROJECT_NAME = "anyftp"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def anyftp_register_backends(registry: BackendRegistry) -> None:
    """Register storage backends: call ``registry.register(name, cls)`` for each.

    *cls* must subclass :class:`anyftp.pathio.AbstractPathIO`. The name should be the
    entry-point name under which the plugin is published.
    """


@hookspec
def anyftp_register_commands(table: Any) -> None:
    """Add or replace FTP server commands.

    *table* is the server's :class:`anyftp.server.commands.CommandTable`; call
    ``table.add(CommandSpec(...), handler)``. Handlers are ``async def handler(session,
    argument) -> None``. A later registration of the same name replaces the earlier one.

    The :class:`anyftp.server.CommandSpec` declares what the server checks before the
    handler runs: ``login`` (530 when not logged in), ``permission`` ("read"/"write" on
    the path ``path_of(argument)`` names; 550), ``argument`` ("required"/"forbidden";
    501), ``before_auth`` (allowed before AUTH TLS when TLS is required), ``transfer``
    (runs in its own task; ABOR cancels it), plus ``syntax``/``help`` for HELP and
    ``feat`` for FEAT. A handler answers with ``await session.reply(code, text)`` or
    raises :class:`anyftp.server.CommandError`. Only servers that enable the plugin run
    its hook: ``Server(plugins=["name"])`` (entry point in group ``anyftp.plugins``) or
    ``Server(plugins=[plugin_object])``.
    """
