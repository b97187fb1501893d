"""The per-user key that signs the Python values the status store keeps.

Invariant: a pickled value is read back from the store only when its HMAC-SHA256, made
with this user's key, verifies; the key lives outside the project, in
`$XDG_CONFIG_HOME/pypipegraph/store.key` (else `~/.config/pypipegraph/store.key`), mode
0600 in a 0700 directory, created on first use. A key file that others could read or
replace (group/other permission bits, another owner, a symlink) is refused with a
StoreError naming it: values signed with a key a neighbour may know prove nothing.
Checking never creates a key: without one, nothing verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

from ..errors import StoreError

KEY_BYTES = 32
MAC_BYTES = 32  # HMAC-SHA256
_DOMAIN = b"pypipegraph store value v1\x00"

_keys: dict[str, bytes] = {}  # key path -> key (read once per process)


class Unverifiable(Exception):
    """A stored value whose signature does not verify (or cannot be checked)."""


def key_path() -> str:
    """Where this user's store key lives."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "pypipegraph", "store.key")


def _read_key(path: str) -> bytes:
    """The key in `path` (FileNotFoundError when there is none); StoreError when unsafe."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        directory = os.stat(os.path.dirname(path))
        problem = _unsafe(info, "the file") or _unsafe(directory, "its directory", writable_only=True)
        if problem:
            raise StoreError(
                f"the store key {path} is not private ({problem}), so values signed with it "
                f"prove nothing. Make it yours alone (chmod 600 {path}; chmod 700 "
                f"{os.path.dirname(path)}) or delete it (a new one is made; stored Python values "
                "then count as changed once)."
            )
        key = os.read(fd, 4 * KEY_BYTES).strip()
    finally:
        os.close(fd)
    if len(key) < KEY_BYTES:
        raise StoreError(f"the store key {path} is damaged (too short); delete it, a new one is made.")
    return key


def _unsafe(info: os.stat_result, what: str, writable_only: bool = False) -> str | None:
    if info.st_uid != os.geteuid():
        return f"{what} belongs to uid {info.st_uid}"
    mask = 0o022 if writable_only else 0o077
    if info.st_mode & mask:
        return f"{what} has mode {stat.S_IMODE(info.st_mode):o}"
    return None


def _create_key(path: str) -> None:
    """Write a fresh key atomically (link of a complete file); losing a race is fine."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temp = f"{path}.{os.getpid()}.new"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, os.urandom(KEY_BYTES).hex().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)


def load_key(create: bool) -> bytes | None:
    """This user's key; made first when `create`, else None when there is none yet."""
    path = key_path()
    key = _keys.get(path)
    if key is not None:
        return key
    try:
        key = _read_key(path)
    except FileNotFoundError:
        if not create:
            return None
        try:
            _create_key(path)
            key = _read_key(path)
        except OSError as exc:
            raise StoreError(f"cannot create the store key {path}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot read the store key {path}: {exc}") from exc
    _keys[path] = key
    return key


def sign(payload: bytes) -> bytes:
    """`payload` with this user's MAC in front (creates the key on first use)."""
    key = load_key(create=True)
    return hmac.digest(key, _DOMAIN + payload, hashlib.sha256) + payload


def verified(blob: bytes) -> bytes:
    """The payload of a `sign`ed blob; Unverifiable unless this user's key made it."""
    try:
        key = load_key(create=False)
    except StoreError as exc:
        raise Unverifiable(str(exc)) from None
    if key is None:
        raise Unverifiable(f"there is no store key ({key_path()}) to check it with")
    mac, payload = blob[:MAC_BYTES], blob[MAC_BYTES:]
    if len(mac) != MAC_BYTES or not hmac.compare_digest(
            mac, hmac.digest(key, _DOMAIN + payload, hashlib.sha256)):
        raise Unverifiable("it is not signed with this user's store key")
    return payload
