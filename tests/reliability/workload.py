"""A mixed FTP workload for many concurrent sessions, shared by the load test and the soak
run (:mod:`.soak`).

:class:`AsyncFTP` is a minimal asyncio client (control connection plus EPSV data
connections) that checks every reply code; one :func:`session_script` uploads a few files
of random size, lists them, downloads one back, renames one, and returns the sha256 of
every file it left, so :func:`verify` can check afterwards, through fresh sessions, that
the server lost nothing. A reply other than the expected one raises :class:`Unexpected`.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ("AsyncFTP", "Unexpected", "RoundResult", "run_round", "verify", "session_script")

TIMEOUT = 30.0
_EPSV = re.compile(r"\|\|\|(\d+)\|")


class Unexpected(AssertionError):
    """A reply other than the one the workload expected."""


@dataclass(frozen=True)
class Reply:
    code: str
    text: str


class AsyncFTP:
    """One control connection with the few commands the workload needs."""

    def __init__(self, host: str, port: int, name: str = "") -> None:
        self.host = host
        self.port = port
        self.name = name
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        await self.expect_reply("220", "welcome")

    async def reply(self) -> Reply:
        assert self.reader is not None
        first = (await self.reader.readline()).decode("utf-8", "replace")
        if not first:
            raise Unexpected(f"{self.name}: connection closed")
        code = first[:3]
        lines = [first.rstrip("\r\n")]
        if first[3:4] == "-":
            while True:
                line = (await self.reader.readline()).decode("utf-8", "replace")
                if not line:
                    raise Unexpected(f"{self.name}: closed in a multi-line reply")
                lines.append(line.rstrip("\r\n"))
                if line.startswith(code + " "):
                    break
        return Reply(code, "\n".join(lines))

    async def expect_reply(self, code: str, what: str) -> Reply:
        reply = await self.reply()
        if reply.code != code:
            raise Unexpected(f"{self.name}: {what}: expected {code}, got {reply.text!r}")
        return reply

    def send(self, line: str) -> None:
        assert self.writer is not None
        self.writer.write(line.encode() + b"\r\n")

    async def command(self, line: str, code: str) -> Reply:
        self.send(line)
        return await self.expect_reply(code, line)

    async def login(self) -> None:
        self.send("USER anonymous")
        reply = await self.reply()
        if reply.code == "331":
            reply = await self.command("PASS guest", "230")
        if reply.code != "230":
            raise Unexpected(f"{self.name}: login: {reply.text!r}")

    async def _data(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reply = await self.command("EPSV", "229")
        match = _EPSV.search(reply.text)
        if match is None:
            raise Unexpected(f"{self.name}: bad EPSV reply {reply.text!r}")
        return await asyncio.open_connection(self.host, int(match.group(1)))

    async def stor(self, name: str, data: bytes) -> None:
        _, writer = await self._data()
        await self.command(f"STOR {name}", "150")
        writer.write(data)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await self.expect_reply("226", f"STOR {name}")

    async def _read_all(self, line: str) -> bytes:
        reader, writer = await self._data()
        await self.command(line, "150")
        data = await reader.read()
        writer.close()
        await writer.wait_closed()
        await self.expect_reply("226", line)
        return data

    async def retr(self, name: str) -> bytes:
        return await self._read_all(f"RETR {name}")

    async def nlst(self) -> list[str]:
        return (await self._read_all("NLST")).decode().split()

    async def quit(self) -> None:
        await self.command("QUIT", "221")
        await self.close()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


async def session_script(
    host: str, port: int, index: int, rng: random.Random, *, files: int = 3, max_size: int = 65536
) -> dict[str, str]:
    """One session's work; returns ``{path: sha256}`` of the files it leaves behind."""
    ftp = AsyncFTP(host, port, f"session {index}")
    await ftp.connect()
    try:
        await ftp.login()
        directory = f"s{index}"
        await ftp.command("NOOP", "200")
        ftp.send(f"MKD {directory}")
        made = await ftp.reply()  # 257, or 550 when an earlier round made it
        if made.code not in ("257", "550"):
            raise Unexpected(f"session {index}: MKD: {made.text!r}")
        await ftp.command(f"CWD {directory}", "250")
        left: dict[str, str] = {}
        contents = {}
        for number in range(files):
            data = rng.randbytes(rng.randint(0, max_size))
            name = f"f{number}.bin"
            await ftp.stor(name, data)
            contents[name] = data
        names = await ftp.nlst()
        missing = set(contents) - set(names)
        if missing:
            raise Unexpected(f"session {index}: NLST misses {sorted(missing)}")
        first = "f0.bin"
        if await ftp.retr(first) != contents[first]:
            raise Unexpected(f"session {index}: RETR {first} differs from what was stored")
        if files > 1:
            await ftp.command("RNFR f1.bin", "350")
            await ftp.command("RNTO r1.bin", "250")
            contents["r1.bin"] = contents.pop("f1.bin")
        await ftp.command("SIZE f0.bin", "213")
        await ftp.quit()
        for name, data in contents.items():
            left[f"/{directory}/{name}"] = hashlib.sha256(data).hexdigest()
        return left
    except BaseException:
        await ftp.close()
        raise


@dataclass
class RoundResult:
    files: dict[str, str] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)
    seconds: float = 0.0


async def run_round(
    host: str,
    port: int,
    sessions: int,
    *,
    seed: int = 0,
    files: int = 3,
    max_size: int = 65536,
    timeout: float = 120.0,
) -> RoundResult:
    """*sessions* concurrent :func:`session_script` runs; every error is collected."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = RoundResult()

    async def one(index: int) -> dict[str, str]:
        rng = random.Random(seed * 100_003 + index)
        return await session_script(host, port, index, rng, files=files, max_size=max_size)

    async with asyncio.timeout(timeout):
        outcomes = await asyncio.gather(*(one(i) for i in range(sessions)), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.errors.append(outcome)
        else:
            result.files.update(outcome)
    result.seconds = loop.time() - started
    return result


async def verify(
    host: str, port: int, expected: dict[str, str], *, sessions: int = 20, timeout: float = 120.0
) -> list[str]:
    """Download every file in *expected* through fresh sessions; the paths that differ."""
    paths = sorted(expected)
    wrong: list[str] = []

    async def worker(part: Iterable[str]) -> None:
        ftp = AsyncFTP(host, port, "verify")
        await ftp.connect()
        await ftp.login()
        for path in part:
            data = await ftp.retr(path)
            if hashlib.sha256(data).hexdigest() != expected[path]:
                wrong.append(path)
        await ftp.quit()

    async with asyncio.timeout(timeout):
        await asyncio.gather(*(worker(paths[i::sessions]) for i in range(sessions)))
    return wrong
