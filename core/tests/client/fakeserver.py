"""A tiny scriptable FTP server on 127.0.0.1, for client behaviour real servers rarely show.

It speaks enough FTP for real transfers (USER/PASS, PWD/CWD, TYPE, EPSV/PASV, RETR, STOR,
MLSD, MLST, LIST, ABOR, NOOP, QUIT) over an in-memory file dict, and each misbehaviour
the client must survive is a switch: how ABOR is answered, which code refuses MLSD, what
address PASV announces, a transfer that stops half-way or stalls, a garbage reply.
Every command line received is kept in ``commands``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Handler = Callable[["Session", str], Awaitable[None]]


@dataclass
class Behaviour:
    greeting: str | None = "220 fake ready"
    password: str = "secret"
    abor_style: str = "two"  # "two": 426+226, "one": 226 only, "refuse": 500
    mlsd_refusal: str | None = None  # e.g. "500", "502", "550"
    mlst_refusal: str | None = None
    epsv_refusal: str | None = None
    pasv_host: str = "127,0,0,1"
    retr_mode: str = "normal"  # "normal", "close_all", "close_data_426", "stall"
    replies: dict[str, str] = field(default_factory=dict)  # command -> raw reply text
    block: int = 64 * 1024


class Session:
    def __init__(
        self, server: FakeFTPServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.listener: asyncio.Server | None = None
        self.data: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None
        self.data = None
        self.transfer: asyncio.Task[None] | None = None
        self.rest = 0

    async def reply(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def _open_listener(self) -> int:
        loop = asyncio.get_running_loop()
        self.data = loop.create_future()
        future = self.data

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not future.done():
                future.set_result((reader, writer))

        if self.listener is not None:
            self.listener.close()
        self.listener = await asyncio.start_server(accepted, "127.0.0.1", 0)
        port: int = self.listener.sockets[0].getsockname()[1]
        return port

    async def _data(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        assert self.data is not None
        async with asyncio.timeout(10):
            return await self.data

    async def run(self) -> None:
        behaviour = self.server.behaviour
        if behaviour.greeting is None:
            await self.reader.read()  # say nothing, ever
            return
        await self.reply(behaviour.greeting)
        while True:
            line = await self.reader.readline()
            if not line:
                return
            text = line.decode().rstrip("\r\n")
            self.server.commands.append(text)
            command, _, argument = text.partition(" ")
            command = command.upper()
            if command in behaviour.replies:
                raw = behaviour.replies[command]
                if raw.endswith("<close>"):  # say this much, then hang up
                    self.writer.write(raw[: -len("<close>")].encode())
                    self.writer.close()
                    return
                self.writer.write(raw.encode())
                await self.writer.drain()
                continue
            handler = getattr(self, "do_" + command.lower(), None)
            if handler is None:
                await self.reply("500 unknown command")
                continue
            if await handler(argument) is False:
                return

    # --- commands ---------------------------------------------------------------------

    async def do_user(self, argument: str) -> None:
        await self.reply("331 password please")

    async def do_pass(self, argument: str) -> None:
        if argument == self.server.behaviour.password:
            await self.reply("230 welcome")
        else:
            await self.reply("530 login incorrect")

    async def do_pwd(self, argument: str) -> None:
        await self.reply('257 "/" is the current directory')

    async def do_cwd(self, argument: str) -> None:
        await self.reply("250 ok")

    async def do_type(self, argument: str) -> None:
        await self.reply("200 type set")

    async def do_noop(self, argument: str) -> None:
        await self.reply("200 noop ok")

    async def do_quit(self, argument: str) -> bool:
        await self.reply("221 bye")
        self.writer.close()
        return False

    async def do_epsv(self, argument: str) -> None:
        if self.server.behaviour.epsv_refusal:
            await self.reply(f"{self.server.behaviour.epsv_refusal} no EPSV here")
            return
        port = await self._open_listener()
        await self.reply(f"229 Entering Extended Passive Mode (|||{port}|)")

    async def do_pasv(self, argument: str) -> None:
        port = await self._open_listener()
        host = self.server.behaviour.pasv_host
        await self.reply(f"227 Entering Passive Mode ({host},{port >> 8},{port & 255}).")

    async def do_rest(self, argument: str) -> None:
        self.rest = int(argument)
        await self.reply("350 restarting")

    async def do_retr(self, argument: str) -> None:
        content = self.server.files.get(argument)
        if content is None:
            await self.reply("550 no such file")
            return
        content = content[self.rest :]
        self.rest = 0
        _, writer = await self._data()
        await self.reply("150 sending")
        self.transfer = asyncio.ensure_future(self._send(writer, content))

    async def _send(self, writer: asyncio.StreamWriter, content: bytes) -> None:
        behaviour = self.server.behaviour
        try:
            if behaviour.retr_mode != "normal":
                writer.write(content[: len(content) // 2])
                await writer.drain()
                if behaviour.retr_mode == "stall":
                    await asyncio.Event().wait()
                writer.close()
                if behaviour.retr_mode == "close_all":
                    self.writer.close()
                else:
                    await self.reply("426 connection closed; transfer aborted")
                return
            for start in range(0, len(content), behaviour.block):
                writer.write(content[start : start + behaviour.block])
                await writer.drain()
            writer.close()
            await self.reply("226 transfer complete")
        except (ConnectionError, OSError):
            writer.close()
            await self.reply("426 transfer aborted")
        finally:
            self.transfer = None

    async def do_stor(self, argument: str) -> None:
        reader, writer = await self._data()
        await self.reply("150 send it")
        self.server.files[argument] = await reader.read()
        writer.close()
        await self.reply("226 stored")

    async def do_abor(self, argument: str) -> None:
        style = self.server.behaviour.abor_style
        transfer = self.transfer
        if transfer is not None:
            transfer.cancel()
            with contextlib.suppress(BaseException):
                await transfer
        if style == "refuse":
            await self.reply("500 ABOR not understood")
        elif style == "one" or transfer is None:
            await self.reply("226 abort done")
        else:
            await self.reply("426 transfer aborted")
            await self.reply("226 abort successful")

    def _facts(self, name: str) -> str:
        size = len(self.server.files[name])
        return f"type=file;size={size};modify=20240102030405; {name}"

    async def do_mlsd(self, argument: str) -> None:
        refusal = self.server.behaviour.mlsd_refusal
        if refusal:
            await self.reply(f"{refusal} MLSD refused")
            return
        _, writer = await self._data()
        await self.reply("150 listing")
        writer.write("".join(self._facts(n) + "\r\n" for n in self.server.files).encode())
        writer.close()
        await self.reply("226 done")

    async def do_mlst(self, argument: str) -> None:
        refusal = self.server.behaviour.mlst_refusal
        if refusal:
            await self.reply(f"{refusal} MLST refused")
            return
        name = argument.lstrip("/")
        if name not in self.server.files:
            await self.reply("550 not found")
            return
        await self.reply(f"250-facts\r\n {self._facts(name)}\r\n250 end")

    async def do_list(self, argument: str) -> None:
        _, writer = await self._data()
        await self.reply("150 listing")
        lines = [
            f"-rw-r--r--   1 owner    group {len(content):>12} Jan 02 03:04 {name}\r\n"
            for name, content in self.server.files.items()
        ]
        writer.write(("total 1\r\n" + "".join(lines)).encode())
        writer.close()
        await self.reply("226 done")


class FakeFTPServer:
    """Start with ``await FakeFTPServer().start()``; ``port`` is then set."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.files: dict[str, bytes] = {}
        self.commands: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> FakeFTPServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await session.run()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if session.listener is not None:
                session.listener.close()
            writer.close()
            self._sessions.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._sessions):
            task.cancel()
        for task in list(self._sessions):
            with contextlib.suppress(BaseException):
                await task
