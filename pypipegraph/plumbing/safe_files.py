"""Writing files and directories in a directory others may write to, without being led astray.

Invariant: a file the engine writes for itself (logs, graph dumps, the report, caches)
is a new file it created: a symbolic or hard link planted at that path is replaced,
never followed, so its target is untouched. The lock file is opened without following
links and refused when it is a link. A private directory (for the log socket) is used
only when it is a real directory owned by this user with no group or other access.
Text written for people survives any job id: file names that are not valid UTF-8 (held
as surrogate escapes, see os.fsdecode) are shown with their raw bytes as `\\xNN`.
"""

from __future__ import annotations

import codecs
import os
import stat
from typing import IO

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
TEXT_ERRORS = "pypipegraph.bytes"  # the codec error handler registered below


def _escape_undecodable(exc: UnicodeError):
    """Encode a surrogate escape (an undecodable byte) as the text `\\xNN`."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = "".join(
        f"\\x{ord(char) - 0xDC00:02x}" if 0xDC80 <= ord(char) <= 0xDCFF else f"\\u{ord(char):04x}"
        for char in exc.object[exc.start:exc.end])
    return text, exc.end


codecs.register_error(TEXT_ERRORS, _escape_undecodable)


def printable(text: str) -> str:
    """`text` with every surrogate escape shown as `\\xNN`: safe to print, store or encode."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", TEXT_ERRORS).decode("utf-8")


def _fresh_file(path: str) -> tuple[int, str]:
    """Create a new, empty file next to `path` (O_EXCL: never an existing file or link)."""
    directory, name = os.path.split(path)
    for _attempt in range(100):
        temp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:  # name the file the caller asked for, not the temporary one
            raise type(exc)(exc.errno, exc.strerror, path) from None
        return fd, temp
    raise FileExistsError(f"cannot create a temporary file next to {path}")


def _discard(temp: str) -> None:
    try:
        os.unlink(temp)
    except OSError:
        pass


def open_for_write(path: str, binary: bool = False, buffering: int = -1) -> IO:
    """Open a new file at `path` for writing, replacing whatever is there (file or link).

    The file is created under a temporary name and renamed over `path` at once, so a
    link planted at `path` is replaced, not followed, and readers see the new file from
    the start. Text mode writes UTF-8 and shows undecodable bytes of names as `\\xNN`.
    OSError when the directory cannot be written or `path` is a directory.
    """
    fd, temp = _fresh_file(path)
    try:
        os.replace(temp, path)
    except BaseException:
        os.close(fd)
        _discard(temp)
        raise
    if binary:
        return os.fdopen(fd, "wb", buffering=buffering)
    return os.fdopen(fd, "w", buffering=buffering, encoding="utf-8", errors=TEXT_ERRORS)


def open_for_append(path: str, binary: bool = False) -> IO:
    """Open `path` for appending (created if missing) without following a link there:
    OSError (ELOOP) when `path` is a symbolic link."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o666)
    if binary:
        return os.fdopen(fd, "ab")
    return os.fdopen(fd, "a", encoding="utf-8", errors=TEXT_ERRORS)


def write_file(path: str, data: str | bytes) -> None:
    """Write `data` to a new file renamed over `path` when complete (readers never see
    half a file; a link at `path` is replaced, its target untouched)."""
    fd, temp = _fresh_file(path)
    try:
        mode = "wb" if isinstance(data, bytes) else "w"
        extra = {} if isinstance(data, bytes) else {"encoding": "utf-8", "errors": TEXT_ERRORS}
        with os.fdopen(fd, mode, **extra) as fh:
            fh.write(data)
        os.replace(temp, path)
    except BaseException:
        _discard(temp)
        raise


def open_lock_file(path: str) -> int:
    """A read-write descriptor on the lock file `path`, created (0644) when missing.

    OSError (its message, meant to follow "the lock file <path>: ", says what to do) when
    `path` is a symbolic link, not a regular file, or has other hard links: a planted link
    must not make a run write into its target. The descriptor is not inherited by
    programs the run starts.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o644)
    except OSError:
        if os.path.islink(path):
            raise OSError(f"it is a symbolic link (to {os.readlink(path)!r}); remove the link "
                          "and run again") from None
        raise
    info = os.fstat(fd)
    problem = ("is not a regular file" if not stat.S_ISREG(info.st_mode)
               else f"has {info.st_nlink} hard links" if info.st_nlink != 1 else None)
    if problem:
        os.close(fd)
        raise OSError(f"it {problem}; remove it and run again")
    return fd


def private_dir_problem(directory: str) -> str | None:
    """Why `directory` is not private to this user (None when it is, or does not exist).

    Private: a real directory (not a link), owned by this user, no access for group or
    others. Only then can nobody else create, replace or connect to what is inside.
    """
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"{directory} is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"{directory} is not a directory"
    if info.st_uid != os.getuid():
        return f"{directory} is owned by uid {info.st_uid}, not by you (uid {os.getuid()})"
    if info.st_mode & 0o077:
        return (f"{directory} has mode {stat.S_IMODE(info.st_mode):04o}: group or others have "
                "access (chmod 700 it)")
    return None


def user_runtime_dir() -> str:
    """This user's directory for sockets (not created here): $XDG_RUNTIME_DIR/pypipegraph,
    else <tmp>/pypipegraph-<uid>. Create it with make_private_dir before use."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "pypipegraph")
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"pypipegraph-{os.getuid()}")


def make_private_dir(directory: str) -> str:
    """Create `directory` (mode 0700) unless it exists; OSError saying why when it is
    not private (see private_dir_problem). Returns `directory`."""
    try:
        os.makedirs(directory, mode=0o700)
    except FileExistsError:
        pass
    problem = private_dir_problem(directory)
    if problem:
        raise PermissionError(f"refusing to use {directory}: {problem}")
    return directory


def store_key(text: str) -> str | bytes:
    """`text` as an SQLite value that gives back the very same str (see from_store): str
    when it is valid UTF-8, else its file system bytes (a name like os.fsdecode(b"M\\xfc"))."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text)


def from_store(value: str | bytes) -> str:
    """The str that store_key() turned into `value`."""
    return value if isinstance(value, str) else os.fsdecode(value)
