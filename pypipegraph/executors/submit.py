"""The submit executor: each job runs as a script handed to a user-given submit command
(`sbatch`, `qsub`, `bsub`, a site wrapper, or `bash` itself), in a fresh Python.

Invariant: nothing crosses between master and job but files in a private directory
(mode 0700, `.pypipegraph_submit/<run token>`) and each side checks what it reads: the
job list and each result carry an HMAC-SHA256 under a key made for this run and kept
in that directory, so the worker never unpickles a job list, and the master never
unpickles a result, that this run did not write. A job counts as finished only when its
result file verified; a job whose script ended without one (killed, walltime, a
Python that could not start) failed. Submission is fire-and-forget: the script itself
announces its start and writes its result, so waiting (`sbatch --wait`) and
non-waiting (`sbatch`, `qsub`) commands both work.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

from ..errors import JobDiedException
from ..plumbing.safe_files import make_private_dir, write_file
from ..resources import ResourceError
from .local import read_capture
from .worker import Result, decode_result

SHIP_DIR = ".pypipegraph_submit"
POLL = 0.2  # seconds between looks at the job files while jobs run
_CLUSTER_ID = re.compile(r"\b\d+(?:\.[\w.-]+)?\b")  # "Submitted batch job 42", "42.pbs01"


def sign(key: bytes, data: bytes) -> bytes:
    """`data` preceded by its HMAC-SHA256 under `key` (what `verify` checks)."""
    return hmac.new(key, data, "sha256").digest() + data


def verify(key: bytes, signed: bytes, what: str) -> bytes:
    """The data of `sign`'s bytes; ValueError naming `what` when this run did not write it."""
    digest, data = signed[:32], signed[32:]
    if len(signed) < 32 or not hmac.compare_digest(digest, hmac.new(key, data, "sha256").digest()):
        raise ValueError(f"{what} was not written by this run (its HMAC does not match); "
                         "refusing to unpickle it")
    return data


class Submission:
    """A submitted job. `state`: "queued" until its script announced the start (then
    `host` and `pid` are its Python's), "running", "done"."""

    __slots__ = ("job_index", "started", "pid", "host", "state", "process", "base", "cluster_id",
                 "killed", "submit_ended")

    def __init__(self, job_index: int, base: str):
        self.job_index = job_index
        self.base = base  # path prefix of this submission's files
        self.started = time.time()
        self.pid = 0
        self.host = ""
        self.state = "queued"
        self.process = None
        self.cluster_id = ""
        self.killed = ""
        self.submit_ended = None  # when the submit command exited with 0 (its job may still run)


class SubmitExecutor:
    """Runs job `i` by writing a script and calling `command` (an argument list whose
    items may hold placeholders, see `fill`); at most `max_jobs` submitted at once.
    `dump()` gives the job list's bytes, `loaders_of(i)` the loaders job `i` needs first,
    `values_of(job)` the placeholder values; `cancel` (optional) stops a submitted job."""

    def __init__(self, job_list: list, command: list, dump, loaders_of, values_of, max_jobs: int,
                 cancel: list | None = None, python: str = sys.executable, directives: list = ()):
        self.job_list = job_list
        self.command = command
        self.cancel = cancel
        self.dump = dump
        self.loaders_of = loaders_of
        self.values_of = values_of
        self.max_jobs = max_jobs
        self.python = python
        self.directives = list(directives)  # lines after the script's #! line, placeholders filled
        self.directory = os.getcwd()
        self.token = uuid.uuid4().hex[:12]
        top = make_private_dir(os.path.join(self.directory, SHIP_DIR))
        self.ship_dir = make_private_dir(os.path.join(top, self.token))
        self.key_path = os.path.join(self.ship_dir, "key")
        self.key = secrets.token_bytes(32)
        write_file(self.key_path, self.key)  # in a 0700 directory: only this user reads it
        self.generation = 0
        self._shipped = (-1, "")
        self._submitted = 0
        self.busy: dict = {}  # base path -> Submission
        self._ship()  # unpicklable jobs fail before any job runs

    def bump_generation(self) -> int:
        self.generation += 1
        return self.generation

    def _ship(self) -> str:
        if self._shipped[0] != self.generation:
            path = os.path.join(self.ship_dir, f"jobs-{self.generation}.pickle")
            write_file(path, sign(self.key, self.dump()))
            self._shipped = (self.generation, path)
        return self._shipped[1]

    def start(self, job_index: int, min_generation: int = 0) -> Submission | None:
        """Write job `job_index`'s script and submit it; None when `max_jobs` are out."""
        if len(self.busy) >= self.max_jobs:
            return None
        job = self.job_list[job_index]
        self._submitted += 1
        base = os.path.join(self.ship_dir, f"{self._submitted}")
        script = base + ".sh"
        task = Submission(job_index, base)
        try:
            values = {**self.values_of(job), "script": script}
            args = fill(self.command, values, job.job_id)
            header = [fill_line(line, values, job.job_id) for line in self.directives]
        except (ValueError, ResourceError) as exc:
            task.killed = f"could not be submitted: {exc}"
            self.busy[base] = task
            return task
        worker = [self.python, "-m", "pypipegraph.executors.submit_worker", self._ship(), str(job_index),
                  ",".join(map(str, self.loaders_of(job_index))), base, self.key_path]
        write_file(script, "\n".join([
            "#!/bin/sh",
            *header,
            f"# pypipegraph job {job.job_id!r}, written by the run in {self.directory!r}",
            f"cd {shlex.quote(self.directory)} || exit 97",
            " ".join(map(shlex.quote, worker)),
            f"echo $? > {shlex.quote(base + '.exit.tmp')} && mv {shlex.quote(base + '.exit.tmp')} "
            f"{shlex.quote(base + '.exit')}",
            "",
        ]))
        os.chmod(script, 0o700)
        try:
            with open(base + ".submit", "wb") as out:
                task.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                                cwd=self.directory, start_new_session=True)
        except OSError as exc:
            task.killed = f"could not be submitted: {exc}"
        self.busy[base] = task
        return task

    def wait(self, timeout: float | None, extra: list = ()) -> tuple[list[tuple[Submission, int, Result]], list]:
        """Until a job finished, one of `extra` is readable, or timeout (polls the files)."""
        if not self.busy and not extra:
            return [], []
        end = None if timeout is None else time.time() + timeout
        while True:
            finished = self._collect()
            remaining = POLL if end is None else min(POLL, end - time.time())
            if finished or remaining <= 0:
                return finished, []
            if extra:
                readable = select.select(list(extra), [], [], remaining)[0]
                if readable:
                    return self._collect(), readable
            else:
                time.sleep(remaining)

    def _collect(self) -> list:
        finished = []
        for base, task in list(self.busy.items()):
            result = self._look(task)
            if result is not None:
                del self.busy[base]
                task.state = "done"
                finished.append((task, task.job_index, result))
        return finished

    def _look(self, task: Submission) -> Result | None:
        """The job's Result when it ended, else None (noting its start on the way)."""
        base = task.base
        if task.killed:
            return self._died(task, task.killed)
        if task.state == "queued" and os.path.exists(base + ".started"):
            with open(base + ".started") as fh:
                host, pid, started = fh.read().split()
            task.host, task.pid, task.started, task.state = host, int(pid), float(started), "running"
        if os.path.exists(base + ".result"):
            with open(base + ".result", "rb") as fh:
                signed = fh.read()
            try:
                return decode_result(verify(self.key, signed, base + ".result"))
            except Exception as exc:  # noqa: BLE001 - a result that cannot be trusted or read
                return self._died(task, f"its result could not be read: {exc}")
        code = task.process.poll() if task.process is not None else 0
        if code is None:
            return None
        if code != 0:
            return self._died(task, f"the submit command {self.command[0]} exited with code {code}: "
                                    f"{_tail(base + '.submit')}")
        if task.submit_ended is None:
            task.submit_ended = time.time()
            task.cluster_id = _cluster_id(base + ".submit")
        if os.path.exists(base + ".exit"):
            time.sleep(0.05)  # the result is written before the exit code: one more look
            if not os.path.exists(base + ".result"):
                with open(base + ".exit") as fh:
                    status = fh.read().strip()
                return self._died(task, f"its job script ended with exit status {status} without a result")
        return None

    def _died(self, task: Submission, why: str) -> Result:
        job = self.job_list[task.job_index]
        out = read_capture(task.base + ".stdout")
        err = read_capture(task.base + ".stderr")
        where = f" on {task.host} (pid {task.pid})" if task.host else ""
        return Result(False, JobDiedException(f"{job.job_id} did not finish{where}: {why}."), None, out, err,
                      task.started, time.time(), task.pid)

    def states(self) -> tuple[int, int]:
        """(running, queued) among the submitted jobs."""
        states = [task.state for task in self.busy.values()]
        return states.count("running"), states.count("queued")

    def kill(self, task: Submission) -> None:
        """Stop a submitted job: the `cancel` command when given (once its cluster job id is
        known), else its Python when it runs on this host; it is reported as killed."""
        task.killed = task.killed or "it was killed"
        if task.process is not None and task.process.poll() is None:
            _signal_group(task.process.pid)
        if self.cancel and task.cluster_id:
            subprocess.run(fill(self.cancel, {"cluster_id": task.cluster_id}, "cancel"),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        elif task.pid and task.host == socket.gethostname():
            try:
                os.kill(task.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def running(self) -> list[Submission]:
        """Every submitted job not yet returned by wait(), whatever its `state`."""
        return list(self.busy.values())

    def shutdown(self, kill: bool = False) -> None:
        """Stop what was submitted and remove the directory of scripts and results."""
        for task in list(self.busy.values()):
            self.kill(task)
        self.busy.clear()
        shutil.rmtree(self.ship_dir, ignore_errors=True)
        try:
            os.rmdir(os.path.dirname(self.ship_dir))
        except OSError:
            pass  # another run's directory is still there


def fill(template: list, values: dict, job_id: str) -> list:
    """The command: each argument of `template` with its {placeholders} filled in; an
    argument that is exactly "{extra}" becomes the job's extra arguments (none: dropped)."""
    args = []
    for item in template:
        if item == "{extra}":
            args.extend(values.get("extra", ()))
            continue
        args.append(_format(item, values, job_id))
    return args


def fill_line(line: str, values: dict, job_id: str) -> str:
    """A directive line of the job script, filled in; a value that would break the line
    (a newline: a second command in the script) is refused."""
    filled = _format(line, values, job_id)
    if "\n" in filled or "\r" in filled:
        raise ValueError(f"{job_id}: the script directive {line!r} would span lines once filled in "
                         f"({filled!r}); cluster settings must not contain line breaks")
    return filled


def _format(item: str, values: dict, job_id: str) -> str:
    try:
        return item.format_map(values)
    except KeyError as exc:
        raise ValueError(f"{job_id}: the submit command uses {{{exc.args[0]}}}, which this job does not "
                         f"set (job.cluster({exc.args[0]}=...)) and the coordinator has no default "
                         "for") from None


def _signal_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: str) -> str:
    text = read_capture(path).strip()
    return text[-500:] if text else "(no output)"


def _cluster_id(path: str) -> str:
    """The cluster's job id in a submit command's output ("Submitted batch job 42": 42)."""
    match = _CLUSTER_ID.search(read_capture(path))
    return match.group(0) if match else ""
