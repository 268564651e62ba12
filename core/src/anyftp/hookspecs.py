"""pluggy hook specifications: the contract between anyftp and its plugins.

Every hook is named ``anyftp_*`` and marked with the ``anyftp`` project name. A plugin is
a module (or object) with functions decorated by :data:`hookimpl`, published under an
entry point:

* group ``anyftp.backends`` - the entry-point *name* is the backend's name (``local``,
  ``memory``, ``s3``...), the value a module implementing :func:`anyftp_register_backends`.
  It is imported only when that backend is selected.
* group ``anyftp.plugins`` - server plugins (authentication sources, event sinks, extra
  commands), loaded only when a server enables them by name
  (``Server(plugins=["audit"])``, ``anyftp serve --plugin audit``); see
  :mod:`anyftp.plugins` for how their hooks are called.

Server plugin hooks, in the order a server calls them:

=============================== ========================================================
:func:`anyftp_configure`        once per server, with the plugin's options; may return a
                                per-server object holding more hook implementations
:func:`anyftp_register_commands` once per server: add or replace FTP commands
:func:`anyftp_server_started`   the server listens (start an exporter, open a file)
:func:`anyftp_authenticate`     a login the static ``users=`` list does not decide
:func:`anyftp_event`            something happened (:mod:`anyftp.events`)
:func:`anyftp_command_done`     a command finished, with its duration
:func:`anyftp_server_stopped`   the server closed (release what ``started`` took)
=============================== ========================================================

Hooks called while the server runs (``started``, ``authenticate``, ``event``,
``command_done``, ``stopped``) may be ``async def`` (run on the server's loop) or plain
functions (run in a worker thread, so blocking work never stalls a session); either way
each call is bounded by the plugin's ``hook_timeout`` and a failure is logged, never
passed on to the session.

Plugins named in the ``ANYFTP_BLOCK_PLUGINS`` environment variable (comma separated) are
never loaded. A module that implements a hook not declared here fails to register, loudly.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Literal

import pluggy

if TYPE_CHECKING:
    from .events import CommandCompleted, Event
    from .registry import BackendRegistry
    from .server import Server, User

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


@hookspec
def anyftp_configure(server: Server, options: dict[str, Any]) -> object | None:
    """Configure the plugin for *server*, which enabled it; called once, while the
    server is being built (before it listens).

    *options* are the plugin's own options: ``Server(plugin_options={"name": {...}})`` or
    ``anyftp serve --plugin-option name.key=value`` (values parsed as JSON when they
    can be). Raise ``ValueError``/``TypeError`` for options you do not accept: the server
    refuses to start and names the plugin.

    Return ``None``, or an object whose methods implement more ``anyftp_*`` hooks: it is
    registered for this server only, so two servers in one process keep separate state
    (files, counters, endpoints). Stateless plugins implement their hooks at module level
    and need not implement this hook at all.
    """


@hookspec
def anyftp_server_started(server: Server) -> Awaitable[None] | None:
    """The server is listening (``server.address`` is known). Start what the plugin
    serves on its own, e.g. a metrics endpoint. Bounded by ``hook_timeout``."""


@hookspec
def anyftp_server_stopped(server: Server) -> Awaitable[None] | None:
    """The server closed and every session ended; events queued before are delivered
    first (within ``hook_timeout``). Release what :func:`anyftp_server_started` took."""


@hookspec
def anyftp_authenticate(
    server: Server, login: str, password: str, client_host: str, client_port: int
) -> User | Literal[False] | Awaitable[User | Literal[False] | None] | None:
    """Decide a login: return a :class:`anyftp.User` to accept it, ``False`` to refuse
    it, or ``None`` when this source does not know *login*.

    The order sources are asked in:

    1. the server's static ``users=`` list (or user manager) for the accounts it names
       exactly: as before, the password check is its own and plugins are not asked;
    2. authentication plugins, in the order the server enabled them: the first ``User``
       logs in, the first ``False`` refuses (no later source is asked);
    3. the static list's anonymous account (``User(login=None)``), if it has one.

    Only when some enabled plugin implements this hook does ``USER`` for a name the static
    list does not hold answer ``331`` (password required); the password then goes to the
    sources. A server given no users (``None`` or empty) then has no default anonymous
    account. A source that raises or exceeds ``hook_timeout`` is logged and counts as
    ``None``. The returned user's ``base_path``, ``home_path``, ``permissions`` and limits
    apply to the session; return the same ``User`` object for the same account while it
    is unchanged, since per-user connection and speed limits are counted per object.
    """


@hookspec
def anyftp_event(event: Event) -> Awaitable[None] | None:
    """Something happened in a session: a record from :mod:`anyftp.events`.

    Events are queued per plugin and delivered in order by a task of the server, never
    by the session itself: a slow, hanging or failing handler delays only its own queue.
    A full queue (``queue_size`` events) drops new events with a logged warning.
    """


@hookspec
def anyftp_command_done(event: CommandCompleted) -> Awaitable[None] | None:
    """A command finished: ``event.command`` and ``event.duration`` (seconds; for a
    transfer command, until the transfer ended). Delivered like :func:`anyftp_event`,
    and only made when an enabled plugin implements this hook."""
