"""Launch pyftpdlib (from the package index) in its default configuration.

Its default handler uses ``sendfile()`` for RETR on Linux; nothing is tuned except the
listen backlog, which every launcher sets to the same value.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import announce, parse_args, prepare_process


def main() -> None:
    args = parse_args(__doc__ or "")
    prepare_process(args.cpus)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")

    class Handler(FTPHandler):  # type: ignore[misc]
        pass

    Handler.authorizer = authorizer
    server = FTPServer((args.host, 0), Handler, backlog=args.backlog)
    use_sendfile = Handler.use_sendfile
    sys.stderr.write(f"pyftpdlib: use_sendfile={use_sendfile}\n")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    announce(server.socket.getsockname()[1])
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
