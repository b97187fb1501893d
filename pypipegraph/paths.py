"""Job ids that name files: one file is one id, however it is spelled.

Invariant: `normalize_path` is idempotent and maps every spelling of a path inside
the working directory ('./a', 'a//b', 'x/../a', '/abs/project/a') to one relative
form; paths outside the project stay absolute (normalised). Ids without a '/' are
returned unchanged (the common case costs one membership test). `return_to` puts a
process back into the project directory after user code changed its working directory.
"""

from __future__ import annotations

import os


def normalize_path(job_id: str) -> str:
    """The canonical spelling of a path-like job id (see module docstring)."""
    if "/" not in job_id:
        return job_id
    if job_id.startswith("/"):
        path = os.path.normpath(job_id)
        cwd = os.getcwd()
        if path == cwd:
            return "."
        if path.startswith(cwd.rstrip("/") + "/"):
            return path[len(cwd.rstrip("/")) + 1:]
        return path
    if "//" in job_id or "./" in job_id or job_id.endswith("/") or "/." in job_id:
        return os.path.normpath(job_id)
    return job_id


def return_to(home: str) -> None:
    """Change back to `home` when user code left it (also when it removed the directory
    it changed into): relative output names mean the project's files again."""
    try:
        here = os.getcwd()
    except FileNotFoundError:
        here = None
    if here != home:
        os.chdir(home)
