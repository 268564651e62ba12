"""Backend lookup by entry-point name: found, lazy, blocked, missing, invalid.

Laziness and "not installed" are checked in fresh interpreters (subprocesses with a
timeout), since this test process may already have imported any backend.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest

import anyftp
from anyftp import registry
from anyftp.errors import BackendError, BackendNotFound, InvalidBackend
from anyftp.pathio import AbstractPathIO

SHIPPED = {"local", "threadpool", "memory", "s3", "fsspec"}
CORE_SRC = Path(anyftp.__file__).resolve().parents[1]


def python(code: str, env: dict[str, str] | None = None, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_shipped_backend_is_available_without_importing_it() -> None:
    out = python(
        """
        import sys
        from anyftp.registry import available_backends
        names = sorted(available_backends())
        imported = sorted(m for m in sys.modules if m.startswith("anyftp_"))
        print(",".join(names))
        print(imported)
        """
    )
    names, imported = out.split("\n")[:2]
    assert set(names.split(",")) >= SHIPPED
    assert imported == "[]"


def test_selecting_memory_imports_neither_s3_nor_its_client_library() -> None:
    out = python(
        """
        import sys
        import anyftp
        from anyftp.registry import get_backend
        cls = get_backend("memory")
        print(cls.__module__)
        for name in ("anyftp_s3", "aiobotocore", "botocore", "anyftp_fsspec", "fsspec",
                     "anyftp_local", "anyftp_threadpool"):
            print(name, name in sys.modules)
        """
    )
    lines = out.split("\n")
    assert lines[0] == "anyftp_memory.pathio"
    assert all(line.endswith("False") for line in lines[1:] if line)


def test_import_anyftp_imports_no_backend_and_no_server_or_client() -> None:
    out = python(
        """
        import sys
        import anyftp
        print(sorted(m for m in sys.modules
                     if m.startswith(("anyftp_", "anyftp.server", "anyftp.client"))))
        """
    )
    assert out.strip() == "[]"


def test_get_backend_returns_the_shipped_classes() -> None:
    from anyftp_local import PathIO
    from anyftp_memory import MemoryPathIO
    from anyftp_threadpool import AsyncPathIO

    assert registry.get_backend("local") is PathIO
    assert registry.get_backend("threadpool") is AsyncPathIO
    assert registry.get_backend("memory") is MemoryPathIO
    assert registry.get_backend("memory") is registry.get_backend("memory")
    assert (anyftp.PathIO, anyftp.AsyncPathIO, anyftp.MemoryPathIO) == (
        PathIO,
        AsyncPathIO,
        MemoryPathIO,
    )


def test_an_unknown_name_lists_the_installed_backends() -> None:
    with pytest.raises(BackendNotFound) as info:
        registry.get_backend("no-such-backend")
    error = info.value
    assert isinstance(error, LookupError) and isinstance(error, BackendError)
    assert error.name == "no-such-backend"
    assert set(error.installed) >= SHIPPED
    assert error.hint is None
    assert "no-such-backend" in str(error) and "memory" in str(error)


def test_a_shipped_backend_that_is_not_installed_names_the_extra_to_install(
    tmp_path: Path,
) -> None:
    # A fresh interpreter that sees anyftp's source and pluggy, but no installed
    # distribution metadata at all: no backend is installed there.
    shutil.copytree(Path(pluggy.__file__).parent, tmp_path / "pluggy")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(CORE_SRC)])
    out = python(
        """
        from anyftp.errors import BackendNotFound
        from anyftp.registry import get_backend
        try:
            get_backend("s3")
        except BackendNotFound as exc:
            print(exc.hint)
            print(exc.installed)
            print(exc)
        """,
        env,
        "-S",
    )
    hint, installed, message = out.strip().split("\n")
    assert hint == 'pip install "anyftp[s3]"'
    assert installed == "[]"
    assert 'pip install "anyftp[s3]"' in message


def test_a_blocked_backend_is_not_found_and_the_error_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert registry.get_backend("memory")  # loaded before it gets blocked
    monkeypatch.setenv(registry.BLOCK_ENV, "s3, memory")
    assert registry.blocked_plugins() == {"s3", "memory"}
    assert "memory" not in registry.available_backends()
    with pytest.raises(BackendNotFound) as info:
        registry.get_backend("memory")
    assert registry.BLOCK_ENV in str(info.value)
    assert "local" in registry.available_backends()


def test_a_backend_blocked_from_the_start_is_never_imported() -> None:
    env = dict(os.environ, ANYFTP_BLOCK_PLUGINS="memory")
    out = python(
        """
        import sys
        from anyftp.errors import BackendNotFound
        from anyftp.registry import get_backend
        try:
            get_backend("memory")
        except BackendNotFound:
            print("refused", "anyftp_memory" in sys.modules)
        """,
        env,
    )
    assert out.strip() == "refused False"


def test_resolve_backend_accepts_names_classes_and_partials() -> None:
    from anyftp_memory import MemoryPathIO

    assert registry.resolve_backend("memory") is MemoryPathIO
    assert registry.resolve_backend(MemoryPathIO) is MemoryPathIO
    partial = functools.partial(MemoryPathIO, timeout=3)
    assert registry.resolve_backend(partial) is partial
    assert registry.backend_class_of(partial) is MemoryPathIO
    assert registry.backend_class_of(MemoryPathIO) is MemoryPathIO


@pytest.mark.parametrize("bad", [int, object(), "x".upper, functools.partial(dict)])
def test_something_that_is_not_a_backend_class_is_invalid(bad: object) -> None:
    with pytest.raises(InvalidBackend) as info:
        registry.resolve_backend(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert "AbstractPathIO" in str(info.value)


def test_the_registry_refuses_to_register_a_non_backend() -> None:
    reg = registry.BackendRegistry()

    class Fine(AbstractPathIO):
        pass

    reg.register("fine", Fine)
    assert reg.get("fine") is Fine and reg.names() == ["fine"]
    with pytest.raises(InvalidBackend, match="'bad'"):
        reg.register("bad", dict)  # type: ignore[arg-type]
    assert reg.get("bad") is None


def test_a_plugin_implementing_an_undeclared_hook_fails_loudly() -> None:
    class Plugin:
        @registry.hookspecs.hookimpl
        def anyftp_no_such_hook(self) -> None:  # pragma: no cover - never called
            pass

    pm = pluggy.PluginManager(registry.hookspecs.PROJECT_NAME)
    pm.add_hookspecs(registry.hookspecs)
    pm.register(Plugin())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def test_the_plugin_manager_knows_anyftp_hooks() -> None:
    pm = registry.get_plugin_manager()
    assert hasattr(pm.hook, "anyftp_register_backends")
    assert pm.project_name == "anyftp"
