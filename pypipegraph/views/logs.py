"""Run logs: the `pypipegraph` logger and the files under logs/.

Invariant: logging only listens. It never changes what runs. Files are written only
when a `logs/` directory exists (as in 0.197): `ppg_run.txt` (every decision),
`ppg_errors.txt` (each failed job's traceback, stdout and stderr), `ppg_graph.txt`
(the graph) and, with dump_graph, `ppg_graph.gml`; command jobs stream their output
to `jobs/<job>/` (see job_log_dir). Nothing goes to the root logger. Logging never
takes a run down: a log file that cannot be written is dropped with one warning. Each
file is created anew (safe_files), so a link planted in logs/ is replaced, not followed.
Records can be streamed to a Unix socket in a private directory (`attach_socket_handler`,
or the environment variable PYPIPEGRAPH_LOG_SOCKET) and read with util/log_listener.py.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import struct
import sys
import time

from ..paths import LOG_DIR
from ..plumbing.safe_files import (
    open_for_append,
    open_for_write,
    printable,
    private_dir_problem,
    user_runtime_dir,
    write_file,
)

logger = logging.getLogger("pypipegraph")
logger.addHandler(logging.NullHandler())
logger.propagate = True

SOCKET_ENV = "PYPIPEGRAPH_LOG_SOCKET"
SOCKET_NAME = "log.sock"


def default_socket() -> str:
    """Where util/log_listener.py listens by default: log.sock in a directory only this
    user can enter, $XDG_RUNTIME_DIR/pypipegraph or else <tmp>/pypipegraph-<uid>."""
    return os.path.join(user_runtime_dir(), SOCKET_NAME)


def socket_address(address: str | None = None) -> str | None:
    """The Unix socket path `address` or $PYPIPEGRAPH_LOG_SOCKET names: "1" is
    default_socket(), a value with a "/" is a path; None when neither is set (or the value
    is "" or "0"). ValueError for anything else (TCP host:port is refused: any local user
    could listen there first or write into it)."""
    text = address if address is not None else os.environ.get(SOCKET_ENV, "")
    text = text.strip()
    if text in ("", "0"):
        return None
    if text == "1":
        return default_socket()
    if "/" in text:
        return os.path.abspath(os.path.expanduser(text))
    raise ValueError(
        f"log socket {text!r}: give the path of a Unix socket (with a '/', e.g. ./log.sock) "
        "or 1 for the default one; TCP host:port is not supported (any local user could "
        "listen on it first or write into it)")


class PrivateSocketHandler(logging.handlers.SocketHandler):
    """A SocketHandler on a Unix socket that talks only to this user's listener.

    Before each connection attempt the socket's directory must be private (see
    safe_files.private_dir_problem), and the process at the other end must run as this
    user (SO_PEERCRED, where the platform has it); otherwise nothing is sent.
    """

    def __init__(self, path: str):
        super().__init__(path, None)

    def makeSocket(self, timeout: float = 1):
        problem = private_dir_problem(os.path.dirname(self.host))
        if problem:
            raise PermissionError(problem)
        sock = super().makeSocket(timeout)
        if hasattr(socket, "SO_PEERCRED"):
            _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            if uid != os.getuid():
                sock.close()
                raise PermissionError(f"the listener at {self.host} runs as uid {uid}, not as you")
        return sock


def attach_socket_handler(address: str | None = None) -> logging.Handler | None:
    """Stream the `pypipegraph` logger's records (DEBUG and up) to a Unix socket.

    `address` (a path, or "1" for default_socket()) or else $PYPIPEGRAPH_LOG_SOCKET says
    where; without either, nothing happens and None is returned. A directory of the socket
    that others can write to, or a malformed $PYPIPEGRAPH_LOG_SOCKET, gives one warning
    and no streaming (the run goes on). The logger is set to DEBUG so that every decision
    is streamed (call this before the run's RunLog is made); `detach(handler)` restores its
    level. A listener that is not there costs nothing: records are dropped, the connection
    is retried now and then.
    """
    try:
        where = socket_address(address)
        problem = where and private_dir_problem(os.path.dirname(where))
    except ValueError as exc:
        where, problem = "$" + SOCKET_ENV, str(exc)
    if where is None:
        return None
    if problem:
        _warn(f"not streaming the log to {where}: {problem}")
        return None
    handler = PrivateSocketHandler(where)
    handler.setLevel(logging.DEBUG)
    handler._ppg_previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler


class LogFileHandler(logging.StreamHandler):
    """new_pipegraph(log_file=...): appends to the file, opened without following a link;
    a failure to write (full disk) is one warning, then records are dropped."""

    def __init__(self, path: str, stream):
        super().__init__(stream)
        self.path = path
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            _warn(f"logging failed: could not write {self.path} ({sys.exc_info()[1]}); "
                  "the run went on without it")

    def close(self) -> None:
        try:
            self.stream.close()
        except OSError:
            pass
        super().close()


def file_handler(path: str) -> logging.Handler | None:
    """A LogFileHandler on `path`, or None (with a warning) when it cannot be opened: a
    symbolic link there is refused, so the log never goes into the link's target."""
    try:
        stream = open_for_append(path)
    except OSError as exc:
        why = "it is a symbolic link" if os.path.islink(path) else exc.strerror or exc
        _warn(f"not logging to {path}: {why}")
        return None
    return LogFileHandler(path, stream)


def _warn(text: str) -> None:
    """A warning for the user: on the logger, and on stderr (the logger may lead nowhere)."""
    logger.warning("%s", text)
    try:
        print(f"pypipegraph: warning: {printable(text)}", file=sys.stderr)
    except (OSError, ValueError):
        pass


def detach(handler: logging.Handler | None) -> None:
    """Remove a handler attach_socket_handler() added, close it, restore the logger level."""
    if handler is None:
        return
    logger.removeHandler(handler)
    previous = getattr(handler, "_ppg_previous_level", None)
    if previous is not None and not any(
            hasattr(other, "_ppg_previous_level") for other in logger.handlers):
        logger.setLevel(previous)
    handler.close()


class RunLog:
    """Writes one run's decisions and failures; a log file that cannot be written
    (full disk, read-only logs/) is dropped with one warning, and the run goes on."""

    def __init__(self, log_dir: str = LOG_DIR):
        self.log_dir = log_dir
        self.enabled = os.path.isdir(log_dir)
        self.problem: str | None = None  # the first failure to write a log file
        self.errors_filename = os.path.join(log_dir, "ppg_errors.txt")
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self._paths = {"_run": os.path.join(log_dir, "ppg_run.txt"), "_errors": self.errors_filename}
        self._run = self._open("_run", buffering=1 << 16) if self.enabled else None
        self._errors = self._open("_errors") if self.enabled else None
        self.line(f"run started {time.strftime('%Y-%m-%d %H:%M:%S')} in {printable(os.getcwd())}")

    def _open(self, attribute: str, buffering: int = -1):
        path = self._paths[attribute]
        try:
            return open_for_write(path, buffering=buffering)
        except OSError as exc:
            self._failed(path, exc)
            return None

    def _failed(self, what: str, exc: BaseException) -> None:
        """Note the first failure (warned about once); later ones are dropped quietly."""
        if self.problem is None:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self.problem = f"could not write {what} ({why}); the run went on without it"

    def _write(self, attribute: str, text: str, flush: bool = False) -> None:
        fh = getattr(self, attribute)
        try:
            fh.write(text)
            if flush:
                fh.flush()
        except (OSError, ValueError) as exc:
            self._failed(self._paths[attribute], exc)
            setattr(self, attribute, None)
            _close_quietly(fh)

    def line(self, text: str) -> None:
        if self._run is not None:
            self._write("_run", text + "\n")
        if self._debug:
            logger.debug(printable(text))

    def decision(self, job_id: str, reasons) -> None:
        if self._run is not None or self._debug:
            self.line(f"{job_id}: runs because " + "; ".join(reasons))

    def failure(self, job, traceback_text: str | None) -> None:
        logger.error("%s failed: %s", printable(job.job_id), printable(str(job.error_reason)))
        if self._errors is None:
            return
        exc = job.exception
        parts = [
            "=" * 78,
            f"{job.job_id} ({type(job).__name__}) failed: {job.error_reason}",
            f"Exception: {type(exc).__name__}: {_text(exc)}" if exc is not None else "",
        ]
        if traceback_text:
            where = "the master" if job.runs_in == "master" or job.is_invariant else "the worker"
            parts += [f"Traceback (from {where}):", traceback_text.rstrip()]
        if job.stdout:
            parts += ["--- stdout ---", job.stdout.rstrip()]
        if job.stderr:
            parts += ["--- stderr ---", job.stderr.rstrip()]
        self._write("_errors", "\n".join(p for p in parts if p) + "\n\n", flush=True)

    def write_graph(self, jobs, gml: bool) -> None:
        """Dump the graph: a text listing, and GML with `gml`."""
        if not self.enabled:
            return
        path = os.path.join(self.log_dir, "ppg_graph.txt")
        try:
            lines = []
            for job in jobs:
                lines.append(f"{job.job_id} ({type(job).__name__})\n")
                lines.extend(f"\t<- {up}\n" for up in sorted(p.job_id for p in job.prerequisites))
            write_file(path, "".join(lines))
            if gml:
                path = os.path.join(self.log_dir, "ppg_graph.gml")
                write_gml(jobs, path)
        except OSError as exc:
            self._failed(path, exc)

    def close(self) -> None:
        """Close the files; say on stderr, once, when logging failed during the run."""
        for attribute in ("_run", "_errors"):
            fh = getattr(self, attribute)
            setattr(self, attribute, None)
            if fh is not None:
                try:
                    fh.close()
                except OSError as exc:
                    self._failed(self._paths[attribute], exc)
        if self.problem is not None and not self._warned:
            self._warned = True
            _warn(f"logging failed: {self.problem}")

    _warned = False


def _text(exc: BaseException) -> str:
    """str(exc), or a placeholder when its __str__ raises."""
    try:
        return str(exc)
    except Exception as inner:  # noqa: BLE001 - a broken __str__ must not break the log
        return f"<str() failed: {type(inner).__name__}>"


def _close_quietly(fh) -> None:
    try:
        fh.close()
    except (OSError, ValueError):
        pass


def write_gml(jobs, filename: str) -> None:
    """The job graph as GML (nodes labelled with job id and type)."""
    def quote(text: str) -> str:
        return '"' + text.replace("&", "&amp;").replace('"', "&quot;") + '"'

    index = {job: i for i, job in enumerate(jobs)}
    parts = ["graph [\n  directed 1\n"]
    for job, i in index.items():
        parts.append(f"  node [\n    id {i}\n    label {quote(job.job_id)}\n"
                     f"    type {quote(type(job).__name__)}\n  ]\n")
    for job, i in index.items():
        for up in job.prerequisites:
            if up in index:
                parts.append(f"  edge [\n    source {index[up]}\n    target {i}\n  ]\n")
    parts.append("]\n")
    write_file(filename, "".join(parts))
