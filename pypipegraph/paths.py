"""Job ids that name files: one file is one id, however it is spelled.

Invariant: `normalize_path` is idempotent and maps every spelling of a path inside
the working directory ('./a', 'a//b', 'x/../a', '/abs/project/a') to one relative
form; paths outside the project stay absolute (normalised). Ids without a '/' are
returned unchanged (the common case costs one membership test).
"""

from __future__ import annotations

import os
import re

from .hashing import hash_value


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


LOG_DIR = "logs"  # the run logs, reports and command jobs' output go here (when it exists)


def job_log_dir(job_id: str, log_dir: str = LOG_DIR) -> str:
    """logs/jobs/<name>: where a command job streams its stdout and stderr.

    The name is the job id with every run of characters other than letters, digits and
    `._+-` replaced by one `_` (`out/a.txt` -> `out_a.txt`); ids longer than 120
    characters are cut and get a hash of the full id appended.
    """
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", job_id).strip("._") or "_"
    if len(name) > 120:
        name = f"{name[:100]}-{hash_value(job_id) & 0xFFFFFFFF:08x}"
    return os.path.join(log_dir, "jobs", name)
