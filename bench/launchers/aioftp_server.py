"""Launch aioftp (from the package index) with its own ``PathIO`` and default settings."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import announce, parse_args, prepare_process


async def serve(args: argparse.Namespace) -> None:
    import aioftp

    user = aioftp.User(
        args.user,
        args.password,
        base_path=Path(args.root),
        permissions=[aioftp.Permission("/", readable=True, writable=True)],
    )
    server = aioftp.Server([user], path_io_factory=aioftp.PathIO)
    await server.start(args.host, 0, backlog=args.backlog)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    announce(server.server_port)
    await stopping.wait()
    await server.close()


def main() -> None:
    args = parse_args(__doc__ or "")
    prepare_process(args.cpus)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
