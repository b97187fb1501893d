"""Records and Python values in the status store, as MessagePack data.

Invariant: decoding never imports or calls anything. Plain values (None, bool, int,
float, str, bytes, and tuples, lists, dicts, sets and frozensets of them, exactly those
types) come back equal and of the same type. Any other value is pickled and signed with
this user's key (`store_key`): it comes back as a `Sealed`, unpickled only once the
signature verified (`open_sealed=True`, or `Sealed.open()`), else as an `Unverified`.
Reading a store someone else wrote can therefore make a job run (or not), but never
run their code.

    >>> unpack(pack(({"a": [1, b"x"]},)), open_sealed=False)   # doctest: +SKIP
    ({'a': [1, b'x']},)
"""

from __future__ import annotations

import functools
import pickle
from typing import Any

import msgpack

from .key import Unverifiable, sign, verified

# extension type codes; tuples, dicts, str, bytes, int, float, bool and None are native
_LIST, _SET, _FROZENSET, _SEALED, _UNVERIFIED, _BIGINT = 1, 2, 3, 4, 5, 6
_NATIVE = (type(None), bool, float, str, bytes)
_INT_RANGE = range(-(1 << 63), 1 << 64)
_TEXT = "surrogatepass"  # file names that are not UTF-8 (os.fsdecode) round-trip


class Sealed:
    """A signed pickle read from the store, not yet unpickled."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes):
        self.blob = blob

    def open(self) -> Any:
        """The value, if this user's key signed it; Unverifiable otherwise (never unpickled)."""
        return pickle.loads(verified(self.blob))

    def __eq__(self, other) -> bool:
        return type(other) is Sealed and other.blob == self.blob

    __hash__ = None

    def __repr__(self) -> str:
        return "<a signed Python value, not shown>"


class Unverified:
    """Stands for a stored value that could not be verified (or was never storable).
    Equal to nothing, so an invariant comparing it sees a change."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why

    def __eq__(self, other) -> bool:
        return False

    __hash__ = None

    def __repr__(self) -> str:
        return f"<stored value could not be verified: {self.why}>"


_packer = msgpack.Packer(use_bin_type=True, unicode_errors=_TEXT)  # no state kept between calls


def pack(fields: tuple, plain: int = 0) -> bytes:
    """`fields` as MessagePack bytes; the first `plain` fields are known to hold only
    native types (str, int, float, None, tuples and dicts of them) and are not walked."""
    if plain < len(fields):
        fields = fields[:plain] + tuple(map(_prepare, fields[plain:]))
    return _packer.pack(fields)


def unpack(raw: bytes, open_sealed: bool) -> Any:
    """What `pack` packed; signed values opened (`open_sealed`) or left `Sealed`."""
    return msgpack.unpackb(raw, use_list=False, strict_map_key=False, unicode_errors=_TEXT,
                           ext_hook=_ext_opened if open_sealed else _ext)


def _prepare(value: Any) -> Any:
    """`value` with what MessagePack has no exact type for made an extension type."""
    kind = type(value)
    if kind in _NATIVE:
        return value
    if kind is int:
        return value if value in _INT_RANGE else msgpack.ExtType(_BIGINT, str(value).encode())
    if kind is tuple:
        return tuple(map(_prepare, value))
    if kind is dict:
        return {_prepare(key): _prepare(item) for key, item in value.items()}
    if kind is list:
        return msgpack.ExtType(_LIST, pack(tuple(value)))
    if kind is set or kind is frozenset:
        return msgpack.ExtType(_SET if kind is set else _FROZENSET, pack(tuple(value)))
    if kind is Sealed:
        return msgpack.ExtType(_SEALED, value.blob)
    if kind is Unverified:
        return msgpack.ExtType(_UNVERIFIED, value.why.encode("utf-8", _TEXT))
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - such a value counts as changed next time
        why = f"a {kind.__name__} that cannot be pickled ({type(exc).__name__})"
        return msgpack.ExtType(_UNVERIFIED, why.encode("utf-8", _TEXT))
    return msgpack.ExtType(_SEALED, sign(data))


def _ext(code: int, data: bytes, open_sealed: bool = False) -> Any:
    if code == _LIST:
        return list(unpack(data, open_sealed))
    if code == _SET:
        return set(unpack(data, open_sealed))
    if code == _FROZENSET:
        return frozenset(unpack(data, open_sealed))
    if code == _SEALED:
        return _open(Sealed(data)) if open_sealed else Sealed(data)
    if code == _UNVERIFIED:
        return Unverified(data.decode("utf-8", _TEXT))
    if code == _BIGINT:
        return int(data.decode("ascii"))
    raise ValueError(f"unknown extension type {code}")


def _ext_opened(code: int, data: bytes) -> Any:
    return _ext(code, data, True)


# `unpack(raw, open_sealed=True)` bound once (no Python frame): a run reads every record so
unpack_opened = functools.partial(msgpack.unpackb, use_list=False, strict_map_key=False,
                                  unicode_errors=_TEXT, ext_hook=_ext_opened)


def _open(sealed: Sealed) -> Any:
    try:
        return sealed.open()
    except Unverifiable as exc:
        return Unverified(str(exc))
    except Exception as exc:  # noqa: BLE001 - signed by this user, but not loadable here (now)
        return Unverified(f"it could not be unpickled ({type(exc).__name__}: {exc})")


def is_plain(value: Any) -> bool:
    """Whether `value` is plain data (kept as such, never pickled): None, bool, int, float,
    str, bytes, and tuples, lists, dicts, sets and frozensets of them, exactly those types."""
    kind = type(value)
    if kind in _NATIVE or kind is int:
        return True
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        return all(map(is_plain, value))
    if kind is dict:
        return all(is_plain(key) and is_plain(item) for key, item in value.items())
    return False


def unverified_in(value: Any) -> str | None:
    """Why a value in `value` could not be verified (the first one), else None."""
    kind = type(value)
    if kind is Unverified:
        return value.why
    if kind is Sealed:
        return "it was not opened"
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        items = value
    elif kind is dict:
        items = value.values()
    else:
        return None
    for item in items:
        why = unverified_in(item)
        if why:
            return why
    return None
