"""Launch the anyftp server on one backend (``local``, ``memory``, ``threadpool``...).

The server is built through the public API exactly as a user would (``anyftp.Server``,
``anyftp.User``, a backend chosen by name). uvloop is used when it is installed
(``anyftp[speed]``) unless ``--loop asyncio`` is given; the ``READY`` line says which
loop ran. Connection limits are raised so 200+ clients from one address are accepted.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path, PurePosixPath
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import announce, parse_args, prepare_process

#: Backends whose namespace is an in-process tree rather than the served directory.
VIRTUAL_BACKENDS = {"memory"}


def accepted(function: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The subset of *options* that *function* takes (limits differ between versions)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    return {key: value for key, value in options.items() if key in parameters}


async def serve(args: Any) -> None:
    import anyftp

    base_path: Any = PurePosixPath("/") if args.backend in VIRTUAL_BACKENDS else Path(args.root)
    user_options = accepted(
        anyftp.User,
        {
            "base_path": base_path,
            "maximum_connections": None,
            "permissions": [anyftp.Permission("/", readable=True, writable=True)],
        },
    )
    user = anyftp.User(args.user, args.password, **user_options)
    limit = 100_000
    server_options = accepted(
        anyftp.Server,
        {
            "path_io_factory": args.backend,
            "maximum_connections": None,
            "maximum_connections_per_address": limit,
            "maximum_connections_per_user": limit,
        },
    )
    for option in args.option:
        key, _, value = option.partition("=")
        server_options[key] = ast.literal_eval(value)
    server = anyftp.Server([user], **server_options)
    await server.start(args.host, 0, backlog=args.backlog)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    announce(server.server_port, loop=args.loop_used)
    await stopping.wait()
    close = server.close()
    if inspect.isawaitable(close):
        await close
    wait_closed = getattr(server, "wait_closed", None)
    if wait_closed is not None:
        await wait_closed()


def run(main: Coroutine[Any, Any, None], loop_choice: str) -> str:
    """Run *main* on uvloop when asked for and installed; return the loop's name."""
    if loop_choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if loop_choice == "uvloop":
                raise
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(main)
            return "uvloop"
    asyncio.run(main)
    return "asyncio"


def main() -> None:
    args = parse_args(
        __doc__ or "",
        [
            ("--backend", {"default": "local"}),
            ("--loop", {"default": "auto", "choices": ["auto", "uvloop", "asyncio"]}),
            (
                "--option",
                {"action": "append", "default": [], "help": "Server keyword, KEY=LITERAL"},
            ),
        ],
    )
    prepare_process(args.cpus)
    args.loop_used = "asyncio"
    if args.loop in ("auto", "uvloop"):
        try:
            import uvloop  # noqa: F401
        except ImportError:
            if args.loop == "uvloop":
                raise
        else:
            args.loop_used = "uvloop"
    run(serve(args), args.loop_used)


if __name__ == "__main__":
    main()
