"""Run logs: the `pypipegraph` logger and the files under logs/.

Invariant: logging only listens. It never changes what runs. Files are written only
when a `logs/` directory exists (as the seed says): `ppg_run.txt` (every decision),
`ppg_errors.txt` (each failed job's traceback, stdout and stderr), `ppg_graph.txt`
(the graph) and, with dump_graph, `ppg_graph.gml`; command jobs stream their output
to `jobs/<job>/` (see job_log_dir). Nothing goes to the root logger.
Records can be streamed to a socket (`attach_socket_handler`, or the environment
variable PYPIPEGRAPH_LOG_SOCKET) and read with util/log_listener.py.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import time

logger = logging.getLogger("pypipegraph")
logger.addHandler(logging.NullHandler())
logger.propagate = True

LOG_DIR = "logs"
SOCKET_ENV = "PYPIPEGRAPH_LOG_SOCKET"
DEFAULT_SOCKET = ("localhost", 5005)  # where util/log_listener.py listens by default


def socket_address(address: str | None = None) -> tuple[str, int] | None:
    """(host, port) from `address` or $PYPIPEGRAPH_LOG_SOCKET: "host:port", ":port", "host"
    or "1" (localhost:5005); None when neither is set (or the variable is "" or "0")."""
    text = address if address is not None else os.environ.get(SOCKET_ENV, "")
    text = text.strip()
    if text in ("", "0"):
        return None
    if text == "1":
        return DEFAULT_SOCKET
    host, sep, port = text.rpartition(":")
    if not sep:  # no colon: a host name alone
        return (text, DEFAULT_SOCKET[1])
    try:
        number = int(port)
    except ValueError:
        raise ValueError(
            f"log socket address {text!r}: expected host:port (e.g. localhost:5005) or 1") from None
    return (host.strip("[]") or DEFAULT_SOCKET[0], number)


def attach_socket_handler(address: str | None = None) -> logging.Handler | None:
    """Stream the `pypipegraph` logger's records (DEBUG and up) to a socket.

    `address` ("host:port", or "1" for localhost:5005) or else $PYPIPEGRAPH_LOG_SOCKET
    says where; without either, nothing happens and None is returned. The logger is set
    to DEBUG so that every decision is streamed (call this before the run's RunLog is
    made); `detach(handler)` restores its level. A listener that is not there costs
    nothing: the standard SocketHandler drops records and retries now and then.
    """
    where = socket_address(address)
    if where is None:
        return None
    handler = logging.handlers.SocketHandler(*where)
    handler.setLevel(logging.DEBUG)
    handler._ppg_previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler


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


def job_log_dir(job_id: str, log_dir: str = LOG_DIR) -> str:
    """logs/jobs/<name>: where a command job streams its stdout and stderr.

    The name is the job id with every run of characters other than letters, digits and
    `._+-` replaced by one `_` (`out/a.txt` -> `out_a.txt`); ids longer than 120
    characters are cut and get a hash of the full id appended.
    """
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", job_id).strip("._") or "_"
    if len(name) > 120:
        from .hashing import hash_value

        name = f"{name[:100]}-{hash_value(job_id) & 0xFFFFFFFF:08x}"
    return os.path.join(log_dir, "jobs", name)


class RunLog:
    """Writes one run's decisions and failures."""

    def __init__(self, log_dir: str = LOG_DIR):
        self.log_dir = log_dir
        self.enabled = os.path.isdir(log_dir)
        self._run = None
        self._errors = None
        self.errors_filename = os.path.join(log_dir, "ppg_errors.txt")
        self._debug = logger.isEnabledFor(logging.DEBUG)
        if self.enabled:
            try:
                self._run = open(os.path.join(log_dir, "ppg_run.txt"), "w", buffering=1 << 16)
            except OSError:
                self._run = None
            try:
                self._errors = open(self.errors_filename, "w")
            except OSError:
                self._errors = None
        self.line(f"run started {time.strftime('%Y-%m-%d %H:%M:%S')} in {os.getcwd()}")

    def line(self, text: str) -> None:
        if self._run is not None:
            self._run.write(text + "\n")
        if self._debug:
            logger.debug(text)

    def decision(self, job_id: str, reasons) -> None:
        if self._run is not None or self._debug:
            self.line(f"{job_id}: runs because " + "; ".join(reasons))

    def failure(self, job, traceback_text: str | None) -> None:
        logger.error("%s failed: %s", job.job_id, job.error_reason)
        if self._errors is None:
            return
        exc = job.exception
        parts = [
            "=" * 78,
            f"{job.job_id} ({type(job).__name__}) failed: {job.error_reason}",
            f"Exception: {type(exc).__name__}: {exc}" if exc is not None else "",
        ]
        if traceback_text:
            where = "the master" if job.runs_in == "master" or job.is_invariant else "the worker"
            parts += [f"Traceback (from {where}):", traceback_text.rstrip()]
        if job.stdout:
            parts += ["--- stdout ---", job.stdout.rstrip()]
        if job.stderr:
            parts += ["--- stderr ---", job.stderr.rstrip()]
        self._errors.write("\n".join(p for p in parts if p) + "\n\n")
        self._errors.flush()

    def write_graph(self, jobs, gml: bool) -> None:
        """Dump the graph: a text listing, and GML with `gml`."""
        if not self.enabled:
            return
        try:
            with open(os.path.join(self.log_dir, "ppg_graph.txt"), "w") as fh:
                for job in jobs:
                    fh.write(f"{job.job_id} ({type(job).__name__})\n")
                    for up in sorted(p.job_id for p in job.prerequisites):
                        fh.write(f"\t<- {up}\n")
            if gml:
                write_gml(jobs, os.path.join(self.log_dir, "ppg_graph.gml"))
        except OSError as exc:
            logger.warning("could not write the graph dump: %s", exc)

    def close(self) -> None:
        for fh in (self._run, self._errors):
            if fh is not None:
                fh.close()
        self._run = self._errors = None


def write_gml(jobs, filename: str) -> None:
    """The job graph as GML (nodes labelled with job id and type)."""
    def quote(text: str) -> str:
        return '"' + text.replace("&", "&amp;").replace('"', "&quot;") + '"'

    index = {job: i for i, job in enumerate(jobs)}
    with open(filename, "w") as fh:
        fh.write("graph [\n  directed 1\n")
        for job, i in index.items():
            fh.write(f"  node [\n    id {i}\n    label {quote(job.job_id)}\n"
                     f"    type {quote(type(job).__name__)}\n  ]\n")
        for job, i in index.items():
            for up in job.prerequisites:
                if up in index:
                    fh.write(f"  edge [\n    source {index[up]}\n    target {i}\n  ]\n")
        fh.write("]\n")
