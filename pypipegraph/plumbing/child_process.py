"""Running an external program from a job, its output streamed to files.

Invariant: a program started here never outlives the process that started it. It runs
in its own process group with stdin closed and stdout/stderr written straight to the
given files (so `tail -f` sees them as they are written). A watcher process holds one
end of a pipe from the starting process; when that end closes (the program finished,
or the worker was killed: `kill N`, Ctrl-C, abort), the watcher SIGKILLs the whole
process group, so no grandchild (a shell pipeline's members, a tool's helpers) is left
running. The program itself also gets SIGKILL from the kernel if its parent dies first.
"""

from __future__ import annotations

import os
import subprocess

from . import host
from .safe_files import open_for_append, open_for_write

# Reads the group id, waits for EOF (the starter finished or died), kills the group.
_WATCHER = 'read -r group; read -r _; [ -n "$group" ] && kill -9 -"$group" 2>/dev/null; exit 0'


def run_program(argv: list[str], stdout_path: str, stderr_path: str, cwd: str | None,
                env: dict[str, str] | None, append: bool = False) -> int:
    """Run `argv` to completion; its return code (minus the signal number if killed).

    `env` is the whole environment of the program (None: inherit); `append` adds to the
    stdout and stderr files instead of replacing them. OSError (missing
    executable, not executable, bad cwd) propagates; nothing is left running then.
    """
    read_end, write_end = os.pipe()
    try:
        watcher = subprocess.Popen(
            ["/bin/sh", "-c", _WATCHER], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finally:
        os.close(read_end)
    parent = os.getpid()

    def before_exec() -> None:  # in the child: its group is known before it can start anything
        host.die_with_parent()
        if os.getppid() != parent:  # the starter died before the line above took effect
            os._exit(137)
        os.write(write_end, f"{os.getpid()}\n".encode())

    try:
        opener = open_for_append if append else open_for_write
        with opener(stdout_path, binary=True) as out, opener(stderr_path, binary=True) as err:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env,
                start_new_session=True, preexec_fn=before_exec)
        return process.wait()
    finally:
        os.close(write_end)  # the watcher now kills whatever is left of the group
        watcher.wait()


def read_tail(path: str, max_bytes: int) -> str:
    """The last `max_bytes` of a file, decoded ('' when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    if size > max_bytes:
        data = data.split(b"\n", 1)[-1]  # drop the cut first line
    return data.decode("utf-8", "replace")
