#!/usr/bin/env python3
"""Print the log records a pypipegraph run streams to a socket, as they come.

Start it, then run the pipeline with PYPIPEGRAPH_LOG_SOCKET=1 (the default socket) or
PYPIPEGRAPH_LOG_SOCKET=/path/to/log.sock (the same path as --socket):

    python util/log_listener.py                 # listens on the default socket
    PYPIPEGRAPH_LOG_SOCKET=1 python pipeline.py # in another terminal

Invariant: only this user can send it records, and it sends nothing anywhere. It listens
on a Unix socket inside a private directory (created mode 0700; a directory that is a
link, owned by someone else or open to group/others is refused), checks each sender's
uid (SO_PEERCRED) where the platform allows, and unpickles records with an unpickler
that refuses every class, so even a sender that got through could not make it run code.
It serves any number of runs (connections) one after another or at once, and Ctrl-C ends
it without a traceback. The records are what logging.handlers.SocketHandler sends: a
4-byte big-endian length, then a pickled dict of the LogRecord's attributes.

Options: --socket PATH (default: pypipegraph.views.logs.default_socket()), --count N (exit
after N records, for tests).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import pickle
import selectors
import socket
import stat
import struct
import sys
import time

try:
    from pypipegraph.plumbing.safe_files import make_private_dir
    from pypipegraph.views.logs import default_socket
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from pypipegraph.plumbing.safe_files import make_private_dir
    from pypipegraph.views.logs import default_socket


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


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (None where SO_PEERCRED is missing)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def bind(path: str) -> socket.socket:
    """A listening Unix socket at `path`, in a private directory; a stale socket file of
    ours is replaced, anything else at `path` is refused (OSError)."""
    path = os.path.abspath(path)
    make_private_dir(os.path.dirname(path))
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise FileExistsError(f"{path} exists and is not a socket; remove it or pick another path")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(path) == 0:
                raise FileExistsError(f"another listener is serving {path}")
        os.unlink(path)  # a socket left by a listener that was killed
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(path)
        os.chmod(path, 0o600)
        server.listen()
    except BaseException:
        server.close()
        raise
    return server


def listen(path: str, count: int | None, out=sys.stdout) -> int:
    """Serve until `count` records were printed (or forever); returns how many were."""
    server = bind(path)
    server.setblocking(False)
    print(f"log_listener: listening on {os.path.abspath(path)}", file=sys.stderr, flush=True)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ, None)
    printed = 0
    try:
        while count is None or printed < count:
            for key, _ in selector.select(timeout=1.0):
                if key.data is None:
                    sock, _ = server.accept()
                    peer = peer_uid(sock)
                    if peer is not None and peer != os.getuid():
                        print(f"log_listener: refused a connection from uid {peer}",
                              file=sys.stderr, flush=True)
                        sock.close()
                        continue
                    peer = f"uid {peer}"
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
        try:
            os.unlink(path)
        except OSError:
            pass
    return printed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print pypipegraph log records streamed with PYPIPEGRAPH_LOG_SOCKET.")
    parser.add_argument("--socket", default=None,
                        help=f"the Unix socket to listen on (default {default_socket()})")
    parser.add_argument("--count", type=int, default=None, help="exit after this many records")
    args = parser.parse_args(argv)
    path = args.socket or default_socket()
    try:
        listen(path, args.count)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 0
    except OSError as exc:
        print(f"log_listener: cannot listen on {path}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
