#!/usr/bin/env python3
"""Print the log records a pypipegraph run streams to a socket, as they come.

Start it, then run the pipeline with PYPIPEGRAPH_LOG_SOCKET=1 (localhost:5005) or
PYPIPEGRAPH_LOG_SOCKET=host:port:

    python util/log_listener.py                 # listens on localhost:5005
    PYPIPEGRAPH_LOG_SOCKET=1 python pipeline.py # in another terminal

Invariant: standard library only; it serves any number of runs (connections) one
after another or at once, and Ctrl-C ends it without a traceback. The records are
what logging.handlers.SocketHandler sends: a 4-byte big-endian length, then a pickled
dict of the LogRecord's attributes. They are unpickled with an unpickler that refuses
every class, so a stranger connecting cannot make it run code; still, it listens on
localhost only unless --host says otherwise.

Options: --port N (0 picks a free port; the address is printed on stderr),
--host H, --count N (exit after N records, for tests).
"""

from __future__ import annotations

import argparse
import io
import logging
import pickle
import selectors
import socket
import struct
import sys
import time


class _DataOnly(pickle.Unpickler):
    """Plain data only: a LogRecord dict holds str, numbers, None, tuples, lists, dicts."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def format_record(attributes: dict) -> str:
    """HH:MM:SS LEVEL name: message (and the traceback text, if any)."""
    record = logging.makeLogRecord(attributes)
    stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
    text = f"{stamp} {record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_text:
        text += "\n" + record.exc_text
    return text


class Connection:
    """Buffers one sender's bytes and cuts them into records."""

    def __init__(self, sock: socket.socket, peer):
        self.sock = sock
        self.peer = peer
        self.buffer = b""

    def records(self, data: bytes) -> list[dict]:
        self.buffer += data
        found = []
        while len(self.buffer) >= 4:
            (length,) = struct.unpack(">L", self.buffer[:4])
            if len(self.buffer) < 4 + length:
                break
            payload, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
            try:
                found.append(_DataOnly(io.BytesIO(payload)).load())
            except Exception as exc:  # noqa: BLE001 - one bad record does not end the listener
                found.append({"name": "log_listener", "levelname": "WARNING", "levelno": 30,
                              "msg": f"unreadable record from {self.peer}: {exc}",
                              "created": time.time()})
        return found


def listen(host: str, port: int, count: int | None, out=sys.stdout) -> int:
    """Serve until `count` records were printed (or forever); returns how many were."""
    server = socket.create_server((host, port))
    server.setblocking(False)
    bound = server.getsockname()
    print(f"log_listener: listening on {bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ, None)
    printed = 0
    try:
        while count is None or printed < count:
            for key, _ in selector.select(timeout=1.0):
                if key.data is None:
                    sock, peer = server.accept()
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ, Connection(sock, peer))
                    continue
                conn = key.data
                try:
                    data = conn.sock.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(conn.sock)
                    conn.sock.close()
                    continue
                for attributes in conn.records(data):
                    print(format_record(attributes), file=out, flush=True)
                    printed += 1
                    if count is not None and printed >= count:
                        break
                if count is not None and printed >= count:
                    break
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()
    return printed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print pypipegraph log records streamed with PYPIPEGRAPH_LOG_SOCKET.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5005, help="port (default 5005; 0 picks a free one)")
    parser.add_argument("--count", type=int, default=None, help="exit after this many records")
    args = parser.parse_args(argv)
    try:
        listen(args.host, args.port, args.count)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 0
    except OSError as exc:
        print(f"log_listener: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
