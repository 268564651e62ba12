"""Backend lookup by entry-point name: lazy, with install hints.

Entry points are read as strings and nothing is imported until a backend is selected.
Selecting ``"s3"`` imports the module behind the ``s3`` entry point of the
``anyftp.backends`` group, registers it with the pluggy manager, and asks it (through
``anyftp_register_backends``) for its class. A name nobody publishes raises
:class:`~anyftp.errors.BackendNotFound`, naming the installed backends and, for the
backends this project ships, the extra to install.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Callable
from typing import Any

import pluggy

from . import hookspecs
from .errors import BackendNotFound, InvalidBackend
from .pathio import AbstractPathIO

__all__ = (
    "BACKENDS_GROUP",
    "PLUGINS_GROUP",
    "BLOCK_ENV",
    "BackendRegistry",
    "available_backends",
    "available_plugins",
    "blocked_plugins",
    "get_backend",
    "get_plugin_manager",
    "load_plugin",
    "resolve_backend",
)

BACKENDS_GROUP = "anyftp.backends"
PLUGINS_GROUP = "anyftp.plugins"
BLOCK_ENV = "ANYFTP_BLOCK_PLUGINS"

#: Install hints for the backends and plugins this project ships.
INSTALL_HINTS = {
    "local": 'pip install "anyftp[local]"',
    "threadpool": 'pip install "anyftp[threadpool]"',
    "memory": 'pip install "anyftp[memory]"',
    "s3": 'pip install "anyftp[s3]"',
    "fsspec": 'pip install "anyftp[fsspec]"',
    "audit": 'pip install "anyftp[audit]"',
    "metrics": 'pip install "anyftp[metrics]"',
    "users": 'pip install "anyftp[users]"',
}


def blocked_plugins() -> frozenset[str]:
    """Names listed in ``ANYFTP_BLOCK_PLUGINS`` (comma or space separated)."""
    raw = os.environ.get(BLOCK_ENV, "")
    return frozenset(part.strip() for part in raw.replace(",", " ").split() if part.strip())


def _entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=group):
        found.setdefault(ep.name, ep)
    return found


def available_backends() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed, unblocked backends by name (nothing is imported)."""
    blocked = blocked_plugins()
    return {n: ep for n, ep in _entry_points(BACKENDS_GROUP).items() if n not in blocked}


def available_plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed, unblocked server plugins by name (nothing is imported)."""
    blocked = blocked_plugins()
    return {n: ep for n, ep in _entry_points(PLUGINS_GROUP).items() if n not in blocked}


class BackendRegistry:
    """Backend classes by name, filled through ``anyftp_register_backends``."""

    def __init__(self) -> None:
        self._classes: dict[str, type[AbstractPathIO]] = {}

    def register(self, name: str, cls: type[AbstractPathIO]) -> None:
        check_backend_class(cls, name)
        self._classes[name] = cls

    def get(self, name: str) -> type[AbstractPathIO] | None:
        return self._classes.get(name)

    def names(self) -> list[str]:
        return sorted(self._classes)


class _Manager:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registry = BackendRegistry()
        self.loaded: dict[tuple[str, str], object] = {}

    def load(self, group: str, name: str) -> object:
        key = (group, name)
        # Checked before the cache: a plugin blocked after it was loaded stays refused.
        if name in blocked_plugins():
            raise BackendNotFound(name, _entry_points(group).keys() - blocked_plugins(),
                                  f"unset {BLOCK_ENV} (it blocks {name!r})")
        if key in self.loaded:
            return self.loaded[key]
        ep = _entry_points(group).get(name)
        if ep is None:
            installed = (available_backends() if group == BACKENDS_GROUP
                         else available_plugins())
            raise BackendNotFound(name, installed, INSTALL_HINTS.get(name))
        plugin = ep.load()
        if self.pm.is_registered(plugin):
            self.loaded[key] = plugin
            return plugin
        self.pm.register(plugin, name=f"{group}:{name}")
        self.pm.check_pending()
        self.loaded[key] = plugin
        if group == BACKENDS_GROUP:
            _call_register(self.pm, plugin, self.registry)
        return plugin


def _call_register(pm: pluggy.PluginManager, plugin: object, registry: BackendRegistry) -> None:
    # Only the newly loaded plugin's implementation runs, so backends loaded earlier do
    # not register twice.
    for impl in pm.hook.anyftp_register_backends.get_hookimpls():
        if impl.plugin is plugin:
            impl.function(registry=registry)


@functools.cache
def _manager() -> _Manager:
    return _Manager()


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager with anyftp's hook specifications."""
    return _manager().pm


def load_plugin(name: str, group: str = PLUGINS_GROUP) -> object:
    """Import and register the plugin published under *name* in *group*."""
    return _manager().load(group, name)


def get_backend(name: str) -> type[AbstractPathIO]:
    """The backend class registered under *name*, importing its plugin on first use."""
    manager = _manager()
    cls = manager.registry.get(name)
    if cls is not None and name not in blocked_plugins():
        return cls
    manager.load(BACKENDS_GROUP, name)
    cls = manager.registry.get(name)
    if cls is None:
        raise BackendNotFound(name, available_backends(),
                              f"the plugin behind entry point {name!r} registered no backend "
                              f"of that name (it registered {manager.registry.names()})")
    return cls


def check_backend_class(obj: Any, name: str | None = None) -> type[AbstractPathIO]:
    """Return *obj* if it is an AbstractPathIO subclass; raise InvalidBackend otherwise."""
    if isinstance(obj, type) and issubclass(obj, AbstractPathIO):
        return obj
    what = f"backend {name!r}" if name else repr(obj)
    raise InvalidBackend(f"{what} is not a subclass of anyftp.AbstractPathIO "
                         f"(got {type(obj).__name__}: {obj!r})")


PathIOFactory = Callable[..., AbstractPathIO]


def resolve_backend(factory: str | type[AbstractPathIO] | PathIOFactory
                    ) -> type[AbstractPathIO] | PathIOFactory:
    """Turn what a user passes as ``path_io_factory`` into something callable.

    A string is looked up by entry-point name; a class must subclass AbstractPathIO;
    a ``functools.partial`` of such a class is accepted as is.
    """
    if isinstance(factory, str):
        return get_backend(factory)
    if isinstance(factory, functools.partial):
        check_backend_class(factory.func)
        return factory
    return check_backend_class(factory)


def backend_class_of(factory: Any) -> type[AbstractPathIO]:
    """The AbstractPathIO subclass behind a resolved factory."""
    if isinstance(factory, functools.partial):
        return check_backend_class(factory.func)
    return check_backend_class(factory)
