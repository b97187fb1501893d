"""`ppg top`'s line into a running pipeline: a Unix socket that answers snapshots of the run
and takes the console's commands (stop, abort, kill a job).

Invariant: only the pipeline's user can reach the socket: it lives in a directory that
user owns with mode 0700 (checked, never followed through a symlink), the socket itself
is 0600, and a peer of another uid is hung up on (SO_PEERCRED). The server is a listener
served from the scheduler's own wait loop (its sockets are polled with the console's
stdin): no thread, and a client that says nothing is dropped after CLIENT_TIMEOUT without
ever blocking the run. One socket per store: its name is a hash of the store's path, so
`ppg top` in the same directory finds it.

    request:  {"ask": "snapshot"} | {"ask": "stop"} | {"ask": "abort"} | {"ask": "kill", "job": "out/a"}
    answer:   one JSON object, then the server hangs up
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time

import xxhash

from ..errors import PyPipeGraphError
from ..events import Listener
from ..plumbing.host import pid_alive
from ..plumbing.safe_files import private_dir_problem, user_runtime_dir
from .console import HOST, kill_by_id, running_rows

CLIENT_TIMEOUT = 5.0  # seconds a connected client may take to send its request
MAX_CLIENTS = 16
MAX_REQUEST = 4096


class ControlError(PyPipeGraphError):
    """The control socket's directory is not private, or the pipeline cannot be reached."""


def private_dir() -> str:
    """This user's 0700 directory for control sockets (safe_files.user_runtime_dir); created
    if missing, ControlError if anyone else could enter it."""
    path = user_runtime_dir()
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ControlError(f"cannot create the control directory {path}: {exc}") from exc
    problem = private_dir_problem(path)
    if problem:
        raise ControlError(f"{path} is not a private directory of yours ({problem}); remove it so that "
                           "it can be created again.")
    return path


def socket_path(store: str) -> str:
    """Where the pipeline using `store` serves `ppg top` (a name short enough for AF_UNIX)."""
    key = xxhash.xxh3_128_hexdigest(os.path.realpath(store).encode())[:24]
    return os.path.join(private_dir(), key + ".sock")


def ask(store: str, request: dict, timeout: float = 10.0) -> dict:
    """Send `request` to the pipeline running on `store`; its answer. ControlError when none runs."""
    path = socket_path(store)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        try:
            client.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ControlError(_nobody_home(store)) from exc
        except OSError as exc:  # e.g. a runtime directory whose path is too long for a socket
            raise ControlError(f"cannot reach the control socket {path}: {exc.strerror or exc}") from exc
        client.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError as exc:
        raise ControlError(f"the pipeline did not answer within {timeout:.0f} s (busy in the master?)") from exc
    finally:
        client.close()
    if not data:
        raise ControlError("the pipeline hung up without answering (the run may just have ended)")
    return json.loads(data)


def _nobody_home(store: str) -> str:
    holder = ""
    try:
        with open(store + ".lock") as fh:
            holder = fh.read(64).strip()
    except OSError:
        pass
    if holder.isdigit() and pid_alive(int(holder)):
        return (f"a pipeline (pid {holder}) holds {store} but serves no live view here: it is starting "
                "or ending, or runs on another host (run ppg top there)")
    return f"no pipeline is running on {store} in this directory"


class ControlServer(Listener):
    """Serves snapshots and commands to `ppg top` while the scheduler's loop runs."""

    def __init__(self, store: str, progress, console=None):
        self.store = store
        self.progress = progress
        self.console = console  # told about commands from ppg top
        self.scheduler = None
        self.path: str | None = None
        self.problem: str | None = None  # why there is no socket (printed once)
        self.stopped_by: str | None = None
        self._server: socket.socket | None = None
        self._inode = None
        self._clients: dict = {}  # socket -> [bytes received, connected at]

    # --- lifecycle (events) ----------------------------------------------------

    def on_run_started(self, scheduler) -> None:
        self.scheduler = scheduler
        try:
            self.path = socket_path(self.store)
            if os.path.exists(self.path):
                if _answers(self.path):
                    raise ControlError(f"another run serves {self.path}")
                os.unlink(self.path)  # a crashed run's
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_mask = os.umask(0o177)
            try:
                server.bind(self.path)
            finally:
                os.umask(old_mask)
            server.listen(MAX_CLIENTS)
            server.setblocking(False)
            self._inode = os.stat(self.path).st_ino
            self._server = server
        except (OSError, ControlError) as exc:
            self.problem = str(exc)
            if self.console is not None:
                self.console.print(f"note: no live view for ppg top in this run: {exc}")

    def on_run_ended(self, scheduler, outcome: str) -> None:
        for client in list(self._clients):
            self._drop(client)
        if self._server is not None:
            self._server.close()
            self._server = None
            try:
                if os.stat(self.path).st_ino == self._inode:
                    os.unlink(self.path)
            except OSError:
                pass

    # --- what the scheduler's loop calls (through console.Controls) --------------

    def inputs(self) -> list:
        if self._server is None:
            return []
        return [self._server, *self._clients]

    def handle_ready(self, readable) -> None:
        if self._server is None:
            return
        if self._server in readable:
            self._accept()
        for client in [c for c in self._clients if c in readable]:
            self._receive(client)

    def tick(self) -> None:
        now = time.time()
        for client, (_, since) in list(self._clients.items()):
            if now - since > CLIENT_TIMEOUT:
                self._drop(client)

    # --- serving -----------------------------------------------------------------

    def _accept(self) -> None:
        try:
            client, _ = self._server.accept()
        except (BlockingIOError, InterruptedError, OSError):
            return
        if len(self._clients) >= MAX_CLIENTS or not _same_user(client):
            client.close()
            return
        client.setblocking(False)
        self._clients[client] = [b"", time.time()]

    def _receive(self, client) -> None:
        try:
            chunk = client.recv(MAX_REQUEST)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        entry = self._clients[client]
        entry[0] += chunk
        if not chunk or len(entry[0]) > MAX_REQUEST:
            self._drop(client)
        elif b"\n" in entry[0]:
            self._reply(client, self._answer_line(entry[0].split(b"\n", 1)[0]))

    def _answer_line(self, line: bytes) -> dict:
        """The answer to one request line, whatever it holds: a line that is not a JSON
        object (binary, nested too deep for the parser, ...) or a request that cannot be
        served gets an error answer; nothing a client sends ends the run."""
        try:
            request = json.loads(line)
        except (ValueError, RecursionError, MemoryError):  # UnicodeDecodeError is a ValueError
            return {"error": "the request is not a JSON object"}
        if not isinstance(request, dict):
            return {"error": "the request is not a JSON object"}
        try:
            return self.answer(request)
        except Exception as exc:  # noqa: BLE001 - a request must never take the run down
            return {"error": f"the request failed: {type(exc).__name__}"}

    def _reply(self, client, answer: dict) -> None:
        try:
            data = json.dumps(answer).encode()
        except (TypeError, ValueError, RecursionError):
            data = json.dumps({"error": "the answer could not be encoded"}).encode()
        try:
            client.setblocking(True)
            client.settimeout(1.0)
            client.sendall(data + b"\n")
            client.shutdown(socket.SHUT_RDWR)  # ends it even if a forked worker shares the fd
        except OSError:
            pass
        self._drop(client)

    def _drop(self, client) -> None:
        self._clients.pop(client, None)
        client.close()

    def answer(self, request: dict) -> dict:
        """The answer to one request of `ppg top`."""
        scheduler = self.scheduler
        ask = request.get("ask")
        if ask == "snapshot":
            return self.snapshot()
        if ask == "stop":
            scheduler.request_stop()
            self.stopped_by = "ppg top"
            return self._told("stopping: no new jobs start; waiting for the running ones to finish")
        if ask == "abort":
            scheduler.request_abort()
            for job, _started, _cores, _pid in scheduler.running_jobs():
                scheduler.kill_job(job, "aborted from ppg top")  # says who, in the store and summary
            self.stopped_by = "ppg top"
            return self._told("aborting: killing the running jobs")
        if ask == "kill" and isinstance(request.get("job"), str):
            job_id = request["job"]
            if not any(job.job_id == job_id for job, *_ in scheduler.running_jobs()):
                known = any(job.job_id == job_id for job in scheduler.jobs)
                return {"error": f"no such job running: {job_id!r} " + (
                    "is not running (nothing was killed)" if known else "is not a job of the running pipeline")}
            return self._told(kill_by_id(scheduler, job_id, "ppg top"))
        named = repr(ask)
        return {"error": "unknown request " + (named if len(named) <= 80 else named[:77] + "...")}

    def _told(self, text: str) -> dict:
        if self.console is not None:
            self.console.print(f"ppg top: {text}")
        return {"message": text}

    def snapshot(self) -> dict:
        """The run as `ppg top` shows it."""
        progress, scheduler = self.progress, self.scheduler
        state = "aborting" if scheduler.aborting else "stopping" if scheduler.stopping else "running"
        return {
            "pid": os.getpid(), "host": HOST, "cwd": os.getcwd(), "script": sys.argv[0] if sys.argv else "",
            "started": progress.started, "now": time.time(), "state": state,
            "cores": scheduler.budget.parallelism, "counts": progress.counts(), "eta": progress.eta(),
            "rough": progress.rough, "rules": progress.rule_rows(),
            "running": running_rows(scheduler),
            "failures": [{"rule": g.rule, "message": g.message, "jobs": len(g.jobs), "first": g.jobs[0].job_id}
                         for g in progress.groups.values()],
        }


def _answers(path: str) -> bool:
    """Does a live server listen on `path` (not a stale socket file of a crashed run)?"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _same_user(client: socket.socket) -> bool:
    """The peer runs as this user (Linux's SO_PEERCRED; elsewhere the 0700 directory decides)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    try:
        _pid, uid, _gid = struct.unpack("3i", client.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    except OSError:
        return False
    return uid == os.getuid()
