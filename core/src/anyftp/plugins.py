"""Server plugins: enabling them by name, configuring them, calling their hooks safely.

Each :class:`~anyftp.server.Server` owns a :class:`PluginHost` with its own pluggy
manager, so two servers in one process may enable different plugins with different
options. A plugin is enabled by its entry-point name in group ``anyftp.plugins``
(``Server(plugins=["audit"])``, ``anyftp serve --plugin audit``) or passed as an object;
an installed plugin that no server enables is never imported. A name listed in
``ANYFTP_BLOCK_PLUGINS`` is refused with :class:`~anyftp.errors.PluginError`.

Options: ``Server(plugin_options={"audit": {"path": "audit.log"}})`` hands the inner
mapping to the plugin's ``anyftp_configure(server, options)``, which may return a
per-server object implementing more hooks. Two keys are the host's, not the plugin's:
``hook_timeout`` (seconds, default 5) bounds every call of that plugin's hooks, and
``queue_size`` (default 10000) bounds its event queue.

How hooks are called (the guarantees a session relies on):

* ``async def`` hooks run on the server's loop; plain functions run in daemon threads
  (event and lifecycle hooks in one thread per plugin, so its calls never overlap;
  authentication in a small pool per plugin). Every call is bounded by ``hook_timeout``;
  a hook that raises or times out is logged and the session goes on.
* Events are put on a bounded queue per plugin and delivered in order by a task of the
  server; a full queue drops the event with a logged warning. Nothing is made or queued
  when no enabled plugin implements ``anyftp_event`` (or ``anyftp_command_done``).
* Authentication sources are awaited, in the order the plugins were enabled (see
  :func:`anyftp.hookspecs.anyftp_authenticate` for where they stand among the server's
  own users).

The functions at the bottom (:func:`session_opened`, :func:`logged_in`, ...) are what
the server calls at the places events happen: one call per event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import queue
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pluggy

from . import events, hookspecs
from .errors import PluginError
from .registry import (
    BLOCK_ENV,
    INSTALL_HINTS,
    available_plugins,
    blocked_plugins,
)

if TYPE_CHECKING:
    from .server import Server, User
    from .server.commands import CommandTable
    from .server.session import Session

__all__ = (
    "PluginHost",
    "EnabledPlugin",
    "DEFAULT_HOOK_TIMEOUT",
    "DEFAULT_QUEUE_SIZE",
    "CLI_GROUP",
)

logger = logging.getLogger("anyftp.plugins")

DEFAULT_HOOK_TIMEOUT = 5.0
DEFAULT_QUEUE_SIZE = 10_000
#: Threads per plugin for plain-function authentication hooks.
AUTH_THREADS = 4
#: Entry-point group for ``anyftp`` sub-commands that plugins add (``anyftp users``).
CLI_GROUP = "anyftp.cli"

_CLOSED = object()


# --- threads for plain-function hooks ------------------------------------------------------


class _DaemonThreads:
    """Up to *size* daemon threads running submitted calls in order of submission.

    Daemon threads, unlike an executor's, never keep the process from exiting when a
    plugin's function does not return.
    """

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._waiting = 0  # threads blocked on the job queue
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], args: Iterable[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, fn, tuple(args)))
        with self._lock:
            if self._waiting == 0 and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"anyftp-plugin-{self.name}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting += 1
            job = self._jobs.get()
            with self._lock:
                self._waiting -= 1
            if job is _CLOSED:
                return
            loop, future, fn, args = job
            if future.cancelled():  # timed out before it started
                continue
            try:
                result = fn(*args)
            except BaseException as exc:
                _settle(loop, future, None, exc)
            else:
                _settle(loop, future, result, None)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(_CLOSED)


def _settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


# --- enabled plugins -------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class EnabledPlugin:
    """A plugin one server enabled: what was loaded, and what its configure hook made."""

    name: str
    module: object
    version: str | None = None
    instance: object | None = None
    hook_timeout: float = DEFAULT_HOOK_TIMEOUT
    queue_size: int = DEFAULT_QUEUE_SIZE
    threads: _DaemonThreads | None = None
    auth_threads: _DaemonThreads | None = None

    @property
    def objects(self) -> tuple[object, ...]:
        """The module (or object) and the per-server instance, if any."""
        return (self.module,) if self.instance is None else (self.module, self.instance)

    @property
    def main(self) -> object:
        """The per-server instance if configure made one, else the module."""
        return self.module if self.instance is None else self.instance


@dataclasses.dataclass
class _Hook:
    plugin: EnabledPlugin
    impl: pluggy.HookImpl

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.impl.argnames]


class _Sink:
    """One plugin's event hook: a bounded queue and the task that drains it."""

    def __init__(self, host: PluginHost, hook: _Hook) -> None:
        self.host = host
        self.hook = hook
        self.queue: asyncio.Queue[events.Event] | None = None
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.delivered = 0

    def put(self, event: events.Event) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue(self.hook.plugin.queue_size)
            self.task = asyncio.get_running_loop().create_task(
                self._drain(), name=f"anyftp-plugin-{self.hook.plugin.name}-events"
            )
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning(
                    "plugin %s: event queue full (%d); dropped %d event(s) so far",
                    self.hook.plugin.name,
                    self.hook.plugin.queue_size,
                    self.dropped,
                )

    async def _drain(self) -> None:
        assert self.queue is not None
        while True:
            event = await self.queue.get()
            try:
                await self.host.call(self.hook, {"event": event})
                self.delivered += 1
            except TimeoutError:
                logger.warning(
                    "plugin %s: %s took longer than %.3g s on a %s event; skipped",
                    self.hook.plugin.name,
                    self.hook.impl.function.__name__,
                    self.hook.plugin.hook_timeout,
                    event.name,
                )
            except Exception:
                logger.exception(
                    "plugin %s: %s failed on a %s event",
                    self.hook.plugin.name,
                    self.hook.impl.function.__name__,
                    event.name,
                )
            finally:
                self.queue.task_done()

    async def close(self) -> None:
        if self.queue is not None and self.task is not None:
            try:
                async with asyncio.timeout(self.hook.plugin.hook_timeout):
                    await self.queue.join()
            except TimeoutError:
                logger.warning(
                    "plugin %s: %d event(s) not delivered at shutdown",
                    self.hook.plugin.name,
                    self.queue.qsize(),
                )
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


@dataclasses.dataclass
class _PendingLogin:
    login: str
    anonymous: User | None


class PluginHost:
    """The plugins one server enabled, and the safe ways of calling their hooks.

    :param server: the server (handed to ``anyftp_configure`` and lifecycle hooks).
    :param plugins: entry-point names (group ``anyftp.plugins``) or plugin objects, in
        order; the order is the order authentication sources are asked in.
    :param options: options by plugin name.
    """

    def __init__(
        self,
        server: Server | None = None,
        plugins: Iterable[str | object] = (),
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.server = server
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.enabled: list[EnabledPlugin] = []
        remaining = {str(k): dict(v) for k, v in (options or {}).items()}
        for item in plugins:
            name = item if isinstance(item, str) else plugin_name(item)
            self._enable(item, remaining.pop(name, {}))
        if remaining:
            raise PluginError(
                f"options given for plugins that are not enabled: {', '.join(sorted(remaining))}"
            )
        self._auth = self._hooks("anyftp_authenticate")
        self._sinks = [_Sink(self, hook) for hook in self._hooks("anyftp_event")]
        self._command_sinks = [_Sink(self, hook) for hook in self._hooks("anyftp_command_done")]
        #: Whether any enabled plugin takes events / command timings.
        self.listening = bool(self._sinks)
        self.timing = bool(self._command_sinks)
        self.started = False
        self.closed = False
        self._pending: weakref.WeakKeyDictionary[Session, _PendingLogin] = (
            weakref.WeakKeyDictionary()
        )
        self._ids: weakref.WeakKeyDictionary[Session, str] = weakref.WeakKeyDictionary()
        self._login_at: weakref.WeakKeyDictionary[Session, float] = weakref.WeakKeyDictionary()

    # --- enabling ----------------------------------------------------------------------

    def _enable(self, item: str | object, options: dict[str, Any]) -> None:
        version: str | None = None
        if isinstance(item, str):
            name = item
            module, version = _load_entry_point(name)
        else:
            name = plugin_name(item)
            module = item
            _register_globally(item)
        if any(p.name == name for p in self.enabled):
            raise PluginError(f"plugin {name!r} is enabled twice")
        plugin = EnabledPlugin(name=name, module=module, version=version)
        try:
            plugin.hook_timeout = float(options.pop("hook_timeout", DEFAULT_HOOK_TIMEOUT))
            plugin.queue_size = int(options.pop("queue_size", DEFAULT_QUEUE_SIZE))
        except (TypeError, ValueError) as exc:
            raise PluginError(f"plugin {name!r}: bad hook_timeout/queue_size: {exc}") from None
        self._register(plugin, module, name)
        configure = self._hooks_of(plugin, "anyftp_configure")
        if options and not configure:
            raise PluginError(
                f"plugin {name!r} takes no options (got {', '.join(sorted(options))})"
            )
        for hook in configure:
            try:
                instance = hook.impl.function(
                    *hook.arguments({"server": self.server, "options": dict(options)})
                )
            except Exception as exc:
                raise PluginError(f"plugin {name!r} refused its options: {exc}") from exc
            if instance is not None:
                plugin.instance = instance
                self._register(plugin, instance, f"{name}.instance")
        self.enabled.append(plugin)

    def _register(self, plugin: EnabledPlugin, obj: object, name: str) -> None:
        try:
            self.pm.register(obj, name=name)
            self.pm.check_pending()
        except (ValueError, pluggy.PluginValidationError) as exc:
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            raise PluginError(f"plugin {plugin.name!r} can not be registered: {exc}") from exc
        for caller in self.pm.get_hookcallers(obj) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is obj and (impl.hookwrapper or impl.wrapper):
                    self.pm.unregister(obj)
                    raise PluginError(
                        f"plugin {plugin.name!r}: {caller.name} is a wrapper; anyftp calls "
                        "each plugin's hook on its own, so wrappers are not supported"
                    )

    def _hooks_of(self, plugin: EnabledPlugin, hook_name: str) -> list[_Hook]:
        caller = getattr(self.pm.hook, hook_name)
        found = []
        for obj in plugin.objects:
            for impl in caller.get_hookimpls():
                if impl.plugin is obj:
                    found.append(_Hook(plugin, impl))
        return found

    def _hooks(self, hook_name: str) -> list[_Hook]:
        """Implementations of *hook_name*, in the order the plugins were enabled."""
        return [hook for plugin in self.enabled for hook in self._hooks_of(plugin, hook_name)]

    @property
    def names(self) -> list[str]:
        """Names of the enabled plugins, in order."""
        return [plugin.name for plugin in self.enabled]

    def get(self, name: str) -> object:
        """The per-server instance of plugin *name* (or its module when it made none)."""
        for plugin in self.enabled:
            if plugin.name == name:
                return plugin.main
        raise KeyError(f"plugin {name!r} is not enabled on this server")

    def register_commands(self, table: CommandTable) -> None:
        """Let every enabled plugin add or replace commands in *table*."""
        for hook in self._hooks("anyftp_register_commands"):
            hook.impl.function(*hook.arguments({"table": table}))

    # --- calling hooks -----------------------------------------------------------------

    async def call(self, hook: _Hook, values: Mapping[str, Any], *, auth: bool = False) -> Any:
        """Call one hook implementation, bounded by its plugin's ``hook_timeout``."""
        plugin = hook.plugin
        function = hook.impl.function
        arguments = hook.arguments(values)
        async with asyncio.timeout(plugin.hook_timeout):
            if inspect.iscoroutinefunction(function):
                return await function(*arguments)
            if auth:
                if plugin.auth_threads is None:
                    plugin.auth_threads = _DaemonThreads(f"{plugin.name}-auth", AUTH_THREADS)
                threads = plugin.auth_threads
            else:
                if plugin.threads is None:
                    plugin.threads = _DaemonThreads(plugin.name, 1)
                threads = plugin.threads
            result = await threads.submit(function, arguments)
            if inspect.isawaitable(result):
                result = await result
            return result

    async def _lifecycle(self, hook_name: str) -> None:
        for hook in self._hooks(hook_name):
            try:
                await self.call(hook, {"server": self.server})
            except Exception:
                logger.exception("plugin %s: %s failed", hook.plugin.name, hook_name)

    async def start(self) -> None:
        """Call ``anyftp_server_started`` hooks (once)."""
        if self.started:
            return
        self.started = True
        await self._lifecycle("anyftp_server_started")

    async def close(self) -> None:
        """Deliver queued events (bounded), stop the queues, call ``anyftp_server_stopped``
        hooks and let the plugins' threads end. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.listening = self.timing = False
        sinks = self._sinks + self._command_sinks
        if sinks:
            await asyncio.gather(*(sink.close() for sink in sinks))
        if self.started:
            await self._lifecycle("anyftp_server_stopped")
        for plugin in self.enabled:
            for threads in (plugin.threads, plugin.auth_threads):
                if threads is not None:
                    threads.close()

    def deliver(self, event: events.Event) -> None:
        """Queue *event* for every plugin implementing ``anyftp_event`` (never blocks)."""
        sinks = self._command_sinks if isinstance(event, events.CommandCompleted) else self._sinks
        for sink in sinks:
            sink.put(event)

    async def flush(self, timeout: float | None = 10.0) -> None:
        """Wait until every event queued so far was handled (or *timeout* passed:
        ``TimeoutError``). Handy in tests, before reading what a plugin recorded."""
        queues = [s.queue for s in self._sinks + self._command_sinks if s.queue is not None]
        if queues:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(q.join() for q in queues))

    def dropped(self) -> dict[str, int]:
        """Events dropped on full queues, by plugin name."""
        counts: dict[str, int] = {}
        for sink in self._sinks + self._command_sinks:
            name = sink.hook.plugin.name
            counts[name] = counts.get(name, 0) + sink.dropped
        return counts

    # --- authentication ----------------------------------------------------------------

    @property
    def authenticates(self) -> bool:
        """Whether an enabled plugin implements ``anyftp_authenticate``."""
        return bool(self._auth)

    def defers_login(self, session: Session, login: str, state: Any, found: User | None) -> bool:
        """After ``USER login``: whether the password must go to the plugin sources.

        True when a plugin authenticates and the static users did not name *login*
        exactly (they found nothing, or only their anonymous account, kept as the
        fallback). The caller then answers 331.
        """
        if not self._auth:
            return False  # nothing is ever pending then (and no weak look-up is made)
        self._pending.pop(session, None)
        known = found is not None and getattr(state, "name", "") != "ERROR"
        if known and found is not None and found.login is not None:
            return False
        anonymous = found if known else None
        self._pending[session] = _PendingLogin(login, anonymous)
        return True

    def login_pending(self, session: Session) -> bool:
        """Whether *session* sent a ``USER`` that the plugin sources decide."""
        return bool(self._auth) and session in self._pending

    def pending_login_name(self, session: Session) -> str:
        pending = self._pending.get(session)
        return "" if pending is None else pending.login

    async def authenticate(self, session: Session, password: str) -> User | None:
        """Ask the sources about the pending login of *session* (see the hookspec for
        the order); the user to log in, or None (refused)."""
        from .server.users import User

        pending = self._pending.pop(session, None)
        if pending is None:
            return None
        values = {
            "server": self.server,
            "login": pending.login,
            "password": password,
            "client_host": session.client_host,
            "client_port": session.client_port,
        }
        for hook in self._auth:
            try:
                answer = await self.call(hook, values, auth=True)
            except TimeoutError:
                logger.warning(
                    "plugin %s: authentication took longer than %.3g s; no answer",
                    hook.plugin.name,
                    hook.plugin.hook_timeout,
                )
                continue
            except Exception:
                logger.exception("plugin %s: authentication failed", hook.plugin.name)
                continue
            if answer is None:
                continue
            if answer is False:
                logger.info(
                    "plugin %s refused login %r from %s",
                    hook.plugin.name,
                    pending.login,
                    session.client_host,
                )
                return None
            if isinstance(answer, User):
                return answer
            logger.error(
                "plugin %s: anyftp_authenticate returned %r; expected a User, False or None",
                hook.plugin.name,
                answer,
            )
        return pending.anonymous

    # --- event records -----------------------------------------------------------------

    def session_id(self, session: Session) -> str:
        found = self._ids.get(session)
        if found is None:
            found = self._ids[session] = secrets.token_hex(6)
        return found

    def emit(
        self, session: Session, kind: type[events.Event], user: str | None = None, **fields: Any
    ) -> None:
        """Make a *kind* record for *session* and queue it; *user* defaults to the
        session's logged-in user."""
        if user is None and session.logged:
            user = user_name(session.user)
        self.deliver(
            kind(
                session_id=self.session_id(session),
                client_host=session.client_host,
                client_port=session.client_port,
                user=user,
                **fields,
            )
        )


def plugin_name(obj: object) -> str:
    """The name a plugin object goes by: ``obj.name``, a module's or class's name, or its
    class name."""
    name = getattr(obj, "name", None) or getattr(obj, "__name__", None)
    return str(name) if name else type(obj).__name__


def user_name(user: User | None) -> str | None:
    if user is None:
        return None
    return user.login or "anonymous"


def _load_entry_point(name: str) -> tuple[object, str | None]:
    if name in blocked_plugins():
        raise PluginError(
            f"plugin {name!r} is blocked by {BLOCK_ENV}; remove it from that variable to enable it"
        )
    found = available_plugins()
    ep = found.get(name)
    if ep is None:
        listed = ", ".join(sorted(found)) or "none"
        message = f"no anyftp plugin named {name!r} is installed (installed: {listed})"
        if name in INSTALL_HINTS:
            message += f"; install it with: {INSTALL_HINTS[name]}"
        raise PluginError(message)
    try:
        module: object = ep.load()
    except Exception as exc:
        raise PluginError(f"plugin {name!r} failed to import: {exc}") from exc
    return module, ep.dist.version if ep.dist is not None else None


def _register_globally(obj: object) -> None:
    # Plugin objects were registered with the process-wide manager before servers had
    # their own; keep doing so (it validates them too), so code that unregisters them
    # there still works.
    from .registry import get_plugin_manager

    manager = get_plugin_manager()
    if not manager.is_registered(obj):
        try:
            manager.register(obj)
            manager.check_pending()
        except (ValueError, pluggy.PluginValidationError) as exc:
            if manager.is_registered(obj):
                manager.unregister(obj)
            raise PluginError(f"plugin {plugin_name(obj)!r} can not be registered: {exc}") from exc


# --- the calls the server makes where events happen -----------------------------------------


def session_opened(session: Session) -> None:
    """A client was admitted (before the 220 greeting)."""
    host = session.server.plugin_host
    if host.listening:
        host.emit(
            session,
            events.Connected,
            server_host=session.local_host,
            server_port=session.local_port,
        )


def logged_in(session: Session) -> None:
    host = session.server.plugin_host
    if host.listening:
        host._login_at[session] = time.monotonic()
        host.emit(session, events.LoggedIn)


def login_failed(session: Session, login: str, reason: str) -> None:
    host = session.server.plugin_host
    if host.listening:
        host.emit(session, events.LoginFailed, result="refused", login=login, reason=reason)


def logged_out(session: Session) -> None:
    """Called before a logged-in user is forgotten."""
    host = session.server.plugin_host
    if host.listening and session.logged:
        since = host._login_at.pop(session, None)
        duration = 0.0 if since is None else time.monotonic() - since
        host.emit(session, events.LoggedOut, duration=duration)


def session_closed(session: Session, user: User | None) -> None:
    """The control connection ended; *user* is who was logged in (or None)."""
    host = session.server.plugin_host
    if host.listening and session in host._ids:  # a refused client never connected
        host.emit(
            session,
            events.Disconnected,
            user=user_name(user),
            duration=time.monotonic() - session.started,
        )


_DOWNLOADS = frozenset({"RETR"})
_UPLOADS = frozenset({"STOR", "APPE", "STOU"})


def transfer_ended(session: Session, result: str, *, stored: bool = False) -> None:
    """A file transfer's data phase ended with *result* (``"ok"``, ``"aborted"`` or a
    failure text); for an upload that went through, the event waits for the file's close,
    reported with ``stored=True`` (and *result* ``"ok"`` or why the close failed)."""
    host = session.server.plugin_host
    if not host.listening:
        return
    info = session.active_info
    command = str(info.get("name", ""))
    upload = command in _UPLOADS
    if not upload and command not in _DOWNLOADS:
        return
    if upload and result == "ok" and not stored:
        return
    channel = info.get("channel")
    moved = 0 if channel is None else (channel.bytes_in if upload else channel.bytes_out)
    started = info.get("started")
    duration = 0.0 if started is None else time.monotonic() - started
    kind: type[events.Transfer]
    if result == "ok":
        kind = events.FileReceived if upload else events.FileSent
        outcome, reason = "ok", ""
    else:
        kind = events.UploadIncomplete if upload else events.DownloadIncomplete
        outcome = "aborted" if result == "aborted" else "failed"
        reason = result
    host.emit(
        session,
        kind,
        result=outcome,
        command=command,
        path=str(info.get("path", "")),
        bytes=moved,
        duration=duration,
        reason=reason,
    )


def changed(
    session: Session,
    kind: type[events.Event],
    path: PurePosixPath,
    target: PurePosixPath | None = None,
) -> None:
    """A file operation succeeded: mkdir, rmdir, delete (*path*) or rename (*target*)."""
    host = session.server.plugin_host
    if host.listening:
        if target is None:
            host.emit(session, kind, path=str(path))
        else:
            host.emit(session, kind, path=str(path), target=str(target))


def command_done(session: Session, command: str, started: float) -> None:
    """Command *command*, read at monotonic time *started*, was handled; a transfer it
    started is timed until it ends."""
    host = session.server.plugin_host
    if not host.timing:
        return
    task = session.active
    if task is not None and not task.done() and session.active_name == command:

        def done(_: asyncio.Task[None]) -> None:
            if host.timing:
                _time_command(host, session, command, started)

        task.add_done_callback(done)
    else:
        _time_command(host, session, command, started)


def _time_command(host: PluginHost, session: Session, command: str, started: float) -> None:
    host.emit(
        session, events.CommandCompleted, command=command, duration=time.monotonic() - started
    )
