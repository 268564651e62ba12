"""Launch the loopback-limit reference: a plain blocking socket server, no FTP.

One request per connection, one line long:

``GET <name>``  the file ``<root>/<name>`` is sent with ``os.sendfile`` and the
                connection closed; this is the fastest a server can hand a file to the
                load generator on this machine.
``PUT``         everything received is read into one reusable buffer and dropped; at the
                end of the stream the server answers ``OK <bytes>`` and closes.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import announce, parse_args, prepare_process

BUFFER_SIZE = 1024 * 1024


def read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def send_file(conn: socket.socket, path: Path) -> None:
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        offset = 0
        while offset < size:
            sent = os.sendfile(conn.fileno(), file.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent


def receive_all(conn: socket.socket, buffer: bytearray) -> int:
    view = memoryview(buffer)
    total = 0
    while True:
        count = conn.recv_into(view)
        if not count:
            return total
        total += count


def main() -> None:
    args = parse_args(__doc__ or "")
    prepare_process(args.cpus)
    root = Path(args.root)
    buffer = bytearray(BUFFER_SIZE)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with socket.create_server((args.host, 0), backlog=args.backlog) as listener:
        announce(listener.getsockname()[1])
        while True:
            conn, _ = listener.accept()
            with conn:
                request = read_line(conn)
                if request.startswith("GET "):
                    send_file(conn, root / request[4:])
                elif request == "PUT":
                    total = receive_all(conn, buffer)
                    conn.sendall(f"OK {total}\n".encode())


if __name__ == "__main__":
    main()
