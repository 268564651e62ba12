"""Run a pyftpdlib server on 127.0.0.1 for the client interop tests.

Binds port 0, prints the chosen port on stdout (one line), then serves until terminated.
With ``--certfile`` it uses pyftpdlib's TLS handler (explicit FTPS, AUTH TLS) and
requires TLS on both the control and the data connections.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", default="user")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")
    handler: type[FTPHandler]
    if args.certfile:
        handler = type("Handler", (TLS_FTPHandler,), {})
        handler.certfile = args.certfile  # type: ignore[attr-defined]
        handler.keyfile = args.keyfile  # type: ignore[attr-defined]
        handler.tls_control_required = True  # type: ignore[attr-defined]
        handler.tls_data_required = True  # type: ignore[attr-defined]
    else:
        handler = type("Handler", (FTPHandler,), {})
    handler.authorizer = authorizer
    handler.timeout = 60
    server = FTPServer(("127.0.0.1", 0), handler)
    print(server.socket.getsockname()[1], flush=True)
    try:
        server.serve_forever(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
