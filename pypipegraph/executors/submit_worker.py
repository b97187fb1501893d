"""What a submitted job script runs: one job in a fresh Python.

    python -m pypipegraph.executors.submit_worker JOB_LIST INDEX LOADERS BASE KEY_FILE

Invariant: the job list is unpickled only after its HMAC under the run's key (KEY_FILE)
verified, and the Result is written signed with the same key, as BASE.result, renamed
into place when complete. BASE.started (host, pid, start time) is written first, so the
master can tell a running job from a queued one. The job's stdout and stderr (file
descriptors 1 and 2) go to BASE.stdout / BASE.stderr, which the master also reads when
the job died without a result.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from .. import state
from ..cluster.shipment import load_job_list
from ..plumbing.safe_files import write_file
from .replica import Replica, run_loaders
from .submit import sign, verify
from .worker import MAX_CAPTURE, execute, run_job


def _capture(base: str):
    """Send fds 1 and 2 to BASE.stdout / BASE.stderr; a function giving their last MiB."""
    for target, suffix in ((1, ".stdout"), (2, ".stderr")):
        fd = os.open(base + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout = open(1, "w", closefd=False, errors="replace", buffering=1)
    sys.stderr = open(2, "w", closefd=False, errors="replace", buffering=1)

    def collect() -> tuple[str, str]:
        sys.stdout.flush()
        sys.stderr.flush()
        texts = []
        for suffix in (".stdout", ".stderr"):
            with open(base + suffix, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - MAX_CAPTURE))
                texts.append(fh.read().decode("utf-8", "replace"))
        return texts[0], texts[1]

    return collect


def main(argv: list[str]) -> int:
    job_list, index, loaders, base, key_file = argv
    write_file(base + ".started", f"{socket.gethostname()} {os.getpid()} {time.time()}\n")
    try:
        with open(key_file, "rb") as fh:
            key = fh.read()
        with open(job_list, "rb") as fh:
            graph, jobs, _probe = load_job_list(verify(key, fh.read(), job_list))
    except Exception as exc:
        write_file(base + ".stderr", f"{type(exc).__name__}: {exc}\n")  # the master shows it
        raise
    state.is_worker = True
    state.global_pipegraph = graph
    replica = Replica(graph, jobs)
    job = jobs[int(index)]
    needed = tuple(int(i) for i in loaders.split(",") if i)

    def run(job) -> tuple:
        failure = run_loaders(replica, job, needed, "in its submitted job")
        return (False, failure, None) if failure is not None else run_job(job)

    payload = execute(job, _capture(base), os.getpid(), run)
    write_file(base + ".result", sign(key, payload))
    return 0


if __name__ == "__main__":  # pragma: no cover - runs in the submitted job
    sys.exit(main(sys.argv[1:]))
