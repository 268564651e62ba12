"""Run this project's own server (``anyftp.Server``) on 127.0.0.1 for the interop tests.

Binds port 0, prints the chosen port on stdout (one line), then serves until terminated.
With ``--certfile`` the server offers explicit FTPS (AUTH TLS) and requires TLS on the
control and data connections, with the data session resuming the control one; with
``--implicit`` it speaks TLS from the first byte instead.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys

import anyftp


async def serve(args: argparse.Namespace) -> None:
    context = None
    if args.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile)
    user = anyftp.User(args.user, args.password, base_path=args.root)
    if context is None:
        server = anyftp.Server([user], socket_timeout=30)
    elif args.implicit:
        server = anyftp.Server([user], ssl=context, socket_timeout=30)
    else:
        server = anyftp.Server(
            [user],
            auth_tls=context,
            require_tls=True,
            require_tls_data=True,
            require_tls_session_reuse=True,
            socket_timeout=30,
        )
    await server.start("127.0.0.1", 0)
    sockets = server.server.sockets if getattr(server, "server", None) else []
    port = sockets[0].getsockname()[1] if sockets else server.address[1]
    print(port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await server.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", default="user")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--implicit", action="store_true")
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
