"""Results of work function calls kept by content key, in this project and (opt-in) shared.

Invariant: a stored result is only unpickled when it is trustworthy: its bytes hash to
the SHA-256 recorded in the key file next to it, that key file names this key, and both files are regular files (not
symlinks) that no one but their owner (and a trusted group) may write, owned by the
current user or by a group the user named as trusted. Anything else counts as a miss
(the call computes), never as an error: a cache can only save work, not change results.

Layout, in the project (`<cache_folder>/futures/by-content/`) and in a shared
`result_cache` directory alike: `<key[:2]>/<key>.pickle` and `<key>.json`
(`{"key": ..., "sha256": ..., "size": ..., "function": ...}`), both written to a temporary name
and renamed, so readers never see half a file.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

_OTHERS_WRITE = stat.S_IWOTH
_GROUP_WRITE = stat.S_IWGRP


class ResultCache:
    """A directory of results by content key. `trusted_groups` names groups whose
    members may write results this user will read (files of their gid are accepted);
    without it only the user's own files are read."""

    def __init__(self, directory: str | os.PathLike, trusted_groups: tuple | list = ()):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"result_cache must be a directory name or a ppg.ResultCache, got {directory!r}")
        self.directory = os.path.abspath(os.fspath(directory))
        self.trusted_gids = {_gid(group) for group in trusted_groups}

    def __repr__(self) -> str:
        return f"ResultCache({self.directory!r})"

    def _paths(self, key: str) -> tuple[str, str]:
        folder = os.path.join(self.directory, key[:2])
        return os.path.join(folder, key + ".pickle"), os.path.join(folder, key + ".json")

    def fetch(self, key: str) -> bytes | None:
        """The stored result's pickle bytes when present and trustworthy, else None."""
        data_path, key_path = self._paths(key)
        record = self._read_trusted(key_path)
        data = self._read_trusted(data_path)
        if record is None or data is None:
            return None
        try:
            entry = json.loads(record)
            expected, named = entry["sha256"], entry["key"]
        except (ValueError, KeyError, TypeError):
            return None
        if named != key or hashlib.sha256(data).hexdigest() != expected:
            return None  # another entry's files put under this key, or a changed result
        return data

    def store(self, key: str, data: bytes, what: str, link_from: str | None = None) -> None:
        """Keep `data` under `key` (best effort: a full or read-only cache is skipped).

        `link_from` (a file holding `data` that is only ever replaced, never rewritten in
        place) is hard-linked instead of copied when it is on the same file system.
        """
        data_path, key_path = self._paths(key)
        record = json.dumps({"key": key, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                             "function": what}).encode()
        mode = 0o664 if self.trusted_gids else 0o644
        try:
            os.makedirs(os.path.dirname(data_path), exist_ok=True)
            if not (link_from and _link_atomic(link_from, data_path)):
                _write_atomic(data_path, data, mode)
            _write_atomic(key_path, record, mode)
        except OSError:
            pass

    def _read_trusted(self, path: str) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or not self._trusted(st):
                return None
            with os.fdopen(fd, "rb") as fh:
                fd = None
                return fh.read()
        finally:
            if fd is not None:
                os.close(fd)

    def _trusted(self, st: os.stat_result) -> bool:
        """Owned by this user or a trusted group; writable by no one else."""
        if st.st_mode & _OTHERS_WRITE:
            return False
        group_ok = st.st_gid in self.trusted_gids
        if st.st_uid == os.getuid():
            return group_ok or not st.st_mode & _GROUP_WRITE
        return group_ok


def _gid(group) -> int:
    if isinstance(group, int) and not isinstance(group, bool):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except (KeyError, TypeError):
        raise ValueError(f"ResultCache: trusted group {group!r} does not exist on this machine") from None


def _write_atomic(path: str, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _link_atomic(source: str, path: str) -> bool:
    tmp = f"{path}.{os.getpid()}.link"
    try:
        os.link(source, tmp)
    except OSError:
        return False
    os.replace(tmp, path)
    return True


def caches_of(graph) -> list[ResultCache]:
    """The project's own store first, then the graph's shared `result_cache`, if any."""
    caches = [ResultCache(os.path.join(graph.cache_folder, "futures", "by-content"))]
    shared = getattr(graph, "result_cache", None)
    if shared is not None:
        caches.append(shared if isinstance(shared, ResultCache) else ResultCache(shared))
    return caches
