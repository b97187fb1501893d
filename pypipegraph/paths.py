"""Job ids that name files: one file is one id, however it is spelled.

Invariant: `normalize_path` is idempotent and maps every spelling of a path inside
the working directory ('./a', 'a//b', 'x/../a', '/abs/project/a') to one relative
form; paths outside the project stay absolute (normalised). Ids without a '/' are
returned unchanged (the common case costs one membership test).
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
