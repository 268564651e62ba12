"""Server plugins: enabling by name or object, blocking, options, per-server isolation,
authentication sources and their order, and the bounds on hooks that fail or hang.

Every test drives a real server on 127.0.0.1 through ftplib (in a worker thread, so the
server keeps running on the test's event loop)."""

from __future__ import annotations

import asyncio
import ftplib
import io
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp import events
from anyftp.errors import PluginError
from anyftp.hookspecs import hookimpl
from anyftp.registry import BLOCK_ENV
from anyftp.testing.servers import ServerGroup, connect, in_thread

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 10

StartServer = Callable[..., Awaitable[anyftp.Server]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start servers on this test's loop; each is closed at the end."""
    group = ServerGroup(login_failure_delay=0, socket_timeout=TIMEOUT)

    async def start(users: Any = None, **kwargs: Any) -> anyftp.Server:
        return await group.start(
            users if users is not None else [anyftp.User(base_path=tmp_path)], **kwargs
        )

    yield start
    await group.close()


class Recorder:
    """Keeps every event; ``wait_for`` waits (bounded) until one matches."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[events.Event] = []
        self._changed = asyncio.Event()

    @hookimpl
    async def anyftp_event(self, event: events.Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, kind: str, count: int = 1) -> list[events.Event]:
        async with asyncio.timeout(TIMEOUT):
            while True:
                found = [e for e in self.events if e.name == kind]
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()


# --- enabling plugins ---------------------------------------------------------------------


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed distribution ``anyftp-fake`` whose entry point ``fake`` (group
    ``anyftp.plugins``) is module ``anyftp_fake_plugin``; returns the plugin name."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "anyftp_fake_plugin.py").write_text(
        "from anyftp.hookspecs import hookimpl\n"
        "seen = []\n"
        "class Configured:\n"
        "    def __init__(self, options):\n"
        "        self.options = options\n"
        "        self.events = []\n"
        "    @hookimpl\n"
        "    def anyftp_event(self, event):\n"
        "        self.events.append(event.name)\n"
        "@hookimpl\n"
        "def anyftp_configure(server, options):\n"
        "    if options.get('bad'):\n"
        "        raise ValueError('bad is not allowed')\n"
        "    return Configured(options)\n",
        encoding="utf-8",
    )
    info = site / "anyftp_fake-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: anyftp-fake\nVersion: 1.2.3\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[anyftp.plugins]\nfake = anyftp_fake_plugin\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "anyftp_fake_plugin", raising=False)
    return "fake"


async def test_a_plugin_is_enabled_by_its_entry_point_name(
    start_server: StartServer, fake_distribution: str
) -> None:
    server = await start_server(plugins=[fake_distribution], plugin_options={"fake": {"a": 1}})
    instance: Any = server.plugin_host.get("fake")
    assert instance.options == {"a": 1}
    assert server.plugin_host.enabled[0].version == "1.2.3"

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        ftp.quit()

    await in_thread(session)
    server.close()
    await server.wait_closed()  # delivers what is queued before the plugin stops
    assert instance.events[:2] == ["connect", "login"]
    assert "disconnect" in instance.events


async def test_an_installed_plugin_does_nothing_unless_enabled(
    start_server: StartServer, fake_distribution: str
) -> None:
    server = await start_server()
    assert server.plugin_host.names == []
    assert "anyftp_fake_plugin" not in sys.modules  # not even imported


def test_a_blocked_plugin_is_refused_by_name(
    fake_distribution: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(BLOCK_ENV, "other, fake")
    with pytest.raises(PluginError, match=rf"'fake' is blocked by {BLOCK_ENV}"):
        anyftp.Server([anyftp.User(base_path=tmp_path)], plugins=["fake"])


def test_an_unknown_plugin_name_says_what_is_installed(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"no anyftp plugin named 'nosuch' is installed"):
        anyftp.Server([anyftp.User(base_path=tmp_path)], plugins=["nosuch"])


def test_options_a_plugin_refuses_name_the_plugin(fake_distribution: str, tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"plugin 'fake' refused its options: bad is not"):
        anyftp.Server(
            [anyftp.User(base_path=tmp_path)],
            plugins=["fake"],
            plugin_options={"fake": {"bad": True}},
        )


def test_options_for_a_plugin_that_is_not_enabled_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"not enabled: audit"):
        anyftp.Server([anyftp.User(base_path=tmp_path)], plugin_options={"audit": {"x": 1}})


def test_options_for_a_plugin_without_configure_hook_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"'recorder' takes no options"):
        anyftp.Server(
            [anyftp.User(base_path=tmp_path)],
            plugins=[Recorder()],
            plugin_options={"recorder": {"x": 1}},
        )


def test_hook_timeout_and_queue_size_are_options_of_the_host(tmp_path: Path) -> None:
    server = anyftp.Server(
        [anyftp.User(base_path=tmp_path)],
        plugins=[Recorder()],
        plugin_options={"recorder": {"hook_timeout": 0.25, "queue_size": 7}},
    )
    plugin = server.plugin_host.enabled[0]
    assert (plugin.hook_timeout, plugin.queue_size) == (0.25, 7)


def test_a_plugin_with_an_undeclared_hook_is_refused(tmp_path: Path) -> None:
    class Typo:
        name = "typo"

        @hookimpl
        def anyftp_evnet(self, event: Any) -> None:  # pragma: no cover - never called
            pass

    with pytest.raises(PluginError, match=r"'typo' can not be registered"):
        anyftp.Server([anyftp.User(base_path=tmp_path)], plugins=[Typo()])


def test_a_wrapper_hook_is_refused(tmp_path: Path) -> None:
    class Wrapper:
        name = "wrapper"

        @hookimpl(wrapper=True)
        def anyftp_event(self, event: Any) -> Any:  # pragma: no cover - never called
            return (yield)

    with pytest.raises(PluginError, match=r"wrappers are not supported"):
        anyftp.Server([anyftp.User(base_path=tmp_path)], plugins=[Wrapper()])


def test_the_same_plugin_enabled_twice_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"enabled twice"):
        anyftp.Server([anyftp.User(base_path=tmp_path)], plugins=[Recorder(), Recorder()])


async def test_two_servers_keep_their_plugins_apart(start_server: StartServer) -> None:
    first, second = Recorder(), Recorder()
    server_a = await start_server(plugins=[first])
    server_b = await start_server(plugins=[second])
    plain = await start_server()
    for server in (server_a, plain):

        def session(server: anyftp.Server = server) -> None:
            ftp = connect(server)
            ftp.login()
            ftp.mkd(f"only-{server.server_port}")
            ftp.quit()

        await in_thread(session)
    await first.wait_for("mkdir")
    assert second.events == []
    assert server_b.plugin_host.get("recorder") is second
    assert plain.plugin_host.listening is False


async def test_lifecycle_hooks_run_once_and_stopped_after_queued_events(
    start_server: StartServer,
) -> None:
    calls: list[str] = []

    class Lifecycle:
        name = "lifecycle"

        @hookimpl
        async def anyftp_server_started(self, server: anyftp.Server) -> None:
            calls.append(f"started {server.server_port == server.address[1]}")

        @hookimpl
        def anyftp_event(self, event: events.Event) -> None:
            time.sleep(0.01)  # a slow sink: events are still queued when close begins
            calls.append(event.name)

        @hookimpl
        def anyftp_server_stopped(self, server: anyftp.Server) -> None:
            calls.append("stopped")

    server = await start_server(plugins=[Lifecycle()])

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        for n in range(5):
            ftp.mkd(f"d{n}")
        ftp.quit()

    await in_thread(session)
    server.close()
    await server.wait_closed()
    await server.wait_closed()
    assert calls[0] == "started True"
    assert calls[-1] == "stopped"
    assert calls.count("mkdir") == 5 and calls.count("stopped") == 1
    assert "disconnect" in calls


# --- hooks that fail or hang ------------------------------------------------------------------


PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def roundtrip(server: anyftp.Server) -> bytes:
    """Upload and download PAYLOAD; the downloaded bytes."""
    ftp = connect(server)
    ftp.login()
    ftp.storbinary("STOR payload", io.BytesIO(PAYLOAD))
    out = io.BytesIO()
    ftp.retrbinary("RETR payload", out.write)
    ftp.quit()
    return out.getvalue()


async def test_an_event_hook_that_raises_is_logged_and_the_transfer_completes(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        name = "broken"

        @hookimpl
        def anyftp_event(self, event: events.Event) -> None:
            raise RuntimeError(f"broken on {event.name}")

    recorder = Recorder()
    server = await start_server(plugins=[Broken(), recorder])
    with caplog.at_level(logging.ERROR, logger="anyftp.plugins"):
        assert await in_thread(lambda: roundtrip(server)) == PAYLOAD
        await recorder.wait_for("disconnect")
        # Each plugin drains its own queue: the recorder having seen the disconnect
        # does not mean the broken plugin's failures were logged yet.
        await server.plugin_host.flush()
    assert any("plugin broken: anyftp_event failed" in r.getMessage() for r in caplog.records)
    assert [e.name for e in recorder.events if e.name.startswith("file_")] == [
        "file_received",
        "file_sent",
    ]


@pytest.mark.parametrize("style", ["async", "thread"])
async def test_an_event_hook_that_hangs_is_bounded_and_the_transfer_completes(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, style: str
) -> None:
    release = threading.Event()

    class Hangs:
        name = "hangs"

    if style == "async":

        @hookimpl
        async def anyftp_event(self: Any, event: events.Event) -> None:
            await asyncio.Event().wait()  # never set

    else:

        @hookimpl
        def anyftp_event(self: Any, event: events.Event) -> None:
            release.wait(60)  # blocks its own thread only

    Hangs.anyftp_event = anyftp_event  # type: ignore[attr-defined]
    recorder = Recorder()
    server = await start_server(
        plugins=[Hangs(), recorder], plugin_options={"hangs": {"hook_timeout": 0.2}}
    )
    try:
        with caplog.at_level(logging.WARNING, logger="anyftp.plugins"):
            started = time.monotonic()
            assert await in_thread(lambda: roundtrip(server)) == PAYLOAD
            assert time.monotonic() - started < 5
            await recorder.wait_for("disconnect")
            server.close()
            async with asyncio.timeout(TIMEOUT):
                await server.wait_closed()
        messages = [r.getMessage() for r in caplog.records]
        assert any("plugin hangs: anyftp_event took longer than 0.2 s" in m for m in messages)
    finally:
        release.set()


async def test_a_full_event_queue_drops_events_with_a_warning(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    class Slow:
        name = "slow"

        @hookimpl
        def anyftp_event(self, event: events.Event) -> None:
            release.wait(30)

    server = await start_server(
        plugins=[Slow()], plugin_options={"slow": {"queue_size": 2, "hook_timeout": 30}}
    )

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        for n in range(10):
            ftp.mkd(f"d{n}")
        assert sorted(ftp.nlst()) == [f"d{n}" for n in range(10)]
        ftp.quit()

    try:
        with caplog.at_level(logging.WARNING, logger="anyftp.plugins"):
            await in_thread(session)
        assert server.plugin_host.dropped()["slow"] >= 8
        assert any("plugin slow: event queue full (2)" in r.getMessage() for r in caplog.records)
    finally:
        release.set()


# --- authentication sources ------------------------------------------------------------------


class Source:
    """An authentication source answering from a table: login -> (password, User)."""

    def __init__(self, name: str, accounts: dict[str, tuple[str, anyftp.User]]) -> None:
        self.name = name
        self.accounts = accounts
        self.asked: list[tuple[str, str]] = []

    @hookimpl
    async def anyftp_authenticate(
        self, login: str, password: str, client_host: str
    ) -> anyftp.User | bool | None:
        self.asked.append((login, client_host))
        if login not in self.accounts:
            return None
        expected, user = self.accounts[login]
        return user if password == expected else False


def login_as(server: anyftp.Server, login: str, password: str) -> str:
    """The login reply, or the error text; the session is closed."""
    ftp = connect(server)
    try:
        return ftp.login(login, password)
    except ftplib.error_perm as exc:
        return str(exc)
    finally:
        ftp.close()


def whoami(server: anyftp.Server, login: str, password: str) -> str:
    """Log in and read the marker file at the user's root."""
    ftp = connect(server)
    ftp.login(login, password)
    out = io.BytesIO()
    ftp.retrbinary("RETR who", out.write)
    ftp.quit()
    return out.getvalue().decode()


@pytest.fixture
def homes(tmp_path: Path) -> dict[str, Path]:
    """Directories holding a file ``who`` that names them."""
    found = {}
    for name in ("static", "first", "second", "anonymous"):
        home = tmp_path / name
        home.mkdir()
        (home / "who").write_text(name)
        found[name] = home
    return found


async def test_sources_are_asked_in_the_order_plugins_were_enabled(
    start_server: StartServer, homes: dict[str, Path]
) -> None:
    first = Source("first", {"ann": ("one", anyftp.User("ann", base_path=homes["first"]))})
    second = Source(
        "second",
        {
            "ann": ("two", anyftp.User("ann", base_path=homes["second"])),
            "bob": ("pw", anyftp.User("bob", base_path=homes["second"])),
        },
    )
    server = await start_server(users=[], plugins=[first, second])
    assert await in_thread(lambda: whoami(server, "bob", "pw")) == "second"
    assert first.asked == [("bob", "127.0.0.1")]  # asked first, did not know bob
    assert await in_thread(lambda: whoami(server, "ann", "one")) == "first"
    # The first source knows ann and refuses: the second is not asked.
    second.asked.clear()
    assert (await in_thread(lambda: login_as(server, "ann", "two"))).startswith("530")
    assert second.asked == []


async def test_static_accounts_come_first_and_the_static_anonymous_account_last(
    start_server: StartServer, homes: dict[str, Path]
) -> None:
    source = Source(
        "first",
        {
            "carol": ("plugin", anyftp.User("carol", base_path=homes["first"])),
            "dave": ("plugin", anyftp.User("dave", base_path=homes["first"])),
        },
    )
    users = [
        anyftp.User("carol", "static", base_path=homes["static"]),
        anyftp.User(base_path=homes["anonymous"]),
    ]
    server = await start_server(users=users, plugins=[source])
    assert await in_thread(lambda: whoami(server, "carol", "static")) == "static"
    assert (await in_thread(lambda: login_as(server, "carol", "plugin"))).startswith("530")
    assert source.asked == []  # the static list named carol: the plugin was never asked
    assert await in_thread(lambda: whoami(server, "dave", "plugin")) == "first"
    assert await in_thread(lambda: whoami(server, "anonymous", "guest@")) == "anonymous"
    assert await in_thread(lambda: whoami(server, "nobody", "x")) == "anonymous"
    # A source's refusal is final: no fallback to the anonymous account.
    assert (await in_thread(lambda: login_as(server, "dave", "wrong"))).startswith("530")


async def test_without_sources_the_static_login_flow_is_unchanged(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = await start_server(users=[anyftp.User(base_path=tmp_path)], plugins=[Recorder()])

    def anonymous_without_password() -> str:
        ftp = connect(server)
        reply = ftp.sendcmd("USER whoever")
        ftp.quit()
        return reply

    assert (await in_thread(anonymous_without_password)).startswith("230")


@pytest.mark.parametrize("failure", ["raises", "hangs", "answers nonsense"])
async def test_a_failing_source_counts_as_no_answer(
    start_server: StartServer,
    homes: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    class Failing:
        name = "failing"

        @hookimpl
        async def anyftp_authenticate(self, login: str) -> Any:
            if failure == "raises":
                raise ConnectionError("directory server down")
            if failure == "hangs":
                await asyncio.Event().wait()
            return "yes"

    good = Source("good", {"erin": ("pw", anyftp.User("erin", base_path=homes["second"]))})
    server = await start_server(
        users=[], plugins=[Failing(), good], plugin_options={"failing": {"hook_timeout": 0.2}}
    )
    with caplog.at_level(logging.WARNING, logger="anyftp.plugins"):
        assert await in_thread(lambda: whoami(server, "erin", "pw")) == "second"
    assert any(r.getMessage().startswith("plugin failing:") for r in caplog.records)


async def test_a_plain_function_source_runs_off_the_event_loop(
    start_server: StartServer, homes: dict[str, Path]
) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    user = anyftp.User("frank", base_path=homes["first"])

    class Blocking:
        name = "blocking"

        @hookimpl
        def anyftp_authenticate(self, login: str, password: str) -> anyftp.User | None:
            threads.append(threading.get_ident())
            time.sleep(0.05)  # e.g. a slow password hash
            return user if (login, password) == ("frank", "pw") else None

    server = await start_server(users=[], plugins=[Blocking()])
    assert await in_thread(lambda: whoami(server, "frank", "pw")) == "first"
    assert threads and loop_thread not in threads


# --- commands ---------------------------------------------------------------------------------


async def test_a_plugin_overrides_a_command_on_its_server_only(start_server: StartServer) -> None:
    from anyftp.server import CommandSpec, CommandTable, Session

    class Configured:
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        @hookimpl
        def anyftp_register_commands(self, table: CommandTable) -> None:
            async def noop(session: Session, argument: str) -> None:
                await session.reply("200", self.greeting)

            table.add(CommandSpec("NOOP", login=False, help="a friendlier NOOP"), noop)

    class Factory:
        name = "friendly"

        @hookimpl
        def anyftp_configure(self, options: dict[str, Any]) -> Configured:
            return Configured(options.get("greeting", "hi"))

    friendly = await start_server(
        plugins=[Factory()], plugin_options={"friendly": {"greeting": "still here"}}
    )
    plain = await start_server()

    def noop(server: anyftp.Server) -> str:
        ftp = connect(server)
        reply = ftp.sendcmd("NOOP")
        ftp.quit()
        return reply

    assert await in_thread(lambda: noop(friendly)) == "200 still here"
    assert await in_thread(lambda: noop(plain)) != "200 still here"
