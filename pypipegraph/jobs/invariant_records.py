"""What invariants stored, read back, and their changes put into words (for `ppg why`).

Invariant: nothing here computes a fingerprint or decides a rerun; these functions read an
invariant's stored state (`Record.extra`) and word how it differs from the state now. A
stored value that is not plain data is never unpickled (`_stored_parameters`).
"""

from __future__ import annotations

import ast
import difflib
import json
from typing import Any

from ..store.format import plain_unpickle
from ..store.values import Unverified


def _function_state(old) -> tuple | None:
    """(byte code fingerprint, source hash, Python version) a FunctionInvariant stored
    (stores of earlier versions keep no dependencies hash after them)."""
    if old is None or not old.extra or len(old.extra) not in (3, 4):
        return None
    return tuple(old.extra[:3])


def _dependencies(extra, source) -> dict | None:
    """The dependencies a FunctionInvariant's state names, from the store's texts (None: unknown)."""
    if not extra or len(extra) != 4:
        return None
    if not extra[3]:
        return {}
    text = source(extra[3])
    if text is None:
        return None
    try:
        return {item[0]: tuple(item[1:]) for item in json.loads(text)}
    except (ValueError, TypeError, IndexError):
        return None


_changes_cache: dict = {}


def dependency_changes(old_extra, now_hash: int, now: dict, now_source, old_source,
                       diffs: bool) -> list[str]:
    """What changed among what a function reads, between the state it stored (`old_extra`,
    texts from `old_source(digest)`) and its dependencies `now` (hashed `now_hash`, helper
    sources from `now_source`), one line each ("constant PACE: 1 -> 2", "helper count
    changed"); with `diffs`, a helper's line is followed by the diff of its source.
    Empty when the stored state names none (an earlier version's)."""
    key = (tuple(old_extra or ()), now_hash, diffs)
    cached = _changes_cache.get(key)
    if cached is not None:
        return cached
    before = _dependencies(old_extra, old_source)
    lines: list[str] = []
    if before is not None:
        for name in sorted(set(before) | set(now)):
            was, is_ = before.get(name), now.get(name)
            if was == is_:
                continue
            shown = name.removeprefix("__main__.")
            if was is None:
                lines.append(f"now reads {shown}")
            elif is_ is None:
                lines.append(f"no longer reads {shown}")
            elif was[0] == is_[0] == "const":
                lines.append(f"constant {shown}: {was[2]} -> {is_[2]}")
            elif was[0] == is_[0] == "lib":
                lines.append(f"package {was[1]} -> {is_[1]}")
            elif was[0] == is_[0] == "fn":
                if was[2] == is_[2]:
                    continue  # its source is the same: what it reads is listed by name
                lines.append(f"helper {shown} changed")
                if diffs:
                    lines.extend(_source_diff(old_source(was[2]), now_source(is_[2])))
            else:
                lines.append(f"{shown} changed")
    if len(_changes_cache) > 1000:
        _changes_cache.clear()
    _changes_cache[key] = lines
    return lines


def _source_diff(before: str | None, after: str | None) -> list[str]:
    if before is None or after is None:
        return ["    (no source to compare)"]
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "now", lineterm="")
    return ["    " + line for line in diff]


_ABSENT = object()


def parameters_change(old_text: str, new: Any, width: int = 300) -> str:
    """What differs between stored parameters (their text) and `new`: for two dicts the
    entries that changed (`'min_q': 20 -> 30`), for two sequences of one length the
    positions, else both whole; at most `width` characters."""
    try:
        old = ast.literal_eval(old_text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        old = _ABSENT
    parts = None
    try:
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(set(old) | set(new), key=repr)
            parts = [f"{key!r}: {_shown(old.get(key, _ABSENT))} -> {_shown(new.get(key, _ABSENT))}"
                     for key in keys if old.get(key, _ABSENT) != new.get(key, _ABSENT)]
        elif (isinstance(old, (list, tuple)) and isinstance(new, (list, tuple))
              and len(old) == len(new) and len(old) > 1):
            parts = [f"[{i}]: {a!r} -> {b!r}" for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    except Exception:  # noqa: BLE001 - values that do not compare: shown whole
        parts = None
    text = ", ".join(parts) if parts else f"{old_text} -> {new!r}"
    return text if len(text) <= width else text[:width - 1] + "…"


def _shown(value) -> str:
    return "(absent)" if value is _ABSENT else repr(value)


def _stored_parameters(extra):
    """The parameters a ParameterInvariant stored (for accept_as_unchanged_func), or an
    Unverified saying why they cannot be had. Stores of earlier versions kept a pickle:
    read only if it holds plain builtin values."""
    how = extra[0] if type(extra) is tuple and extra else None
    if how == "value" and len(extra) == 3:
        return extra[2]
    if how == "pickle" and len(extra) == 2 and type(extra[1]) is bytes:
        try:
            return plain_unpickle(extra[1])
        except Exception as exc:  # noqa: BLE001 - refused, never run
            return Unverified(f"an earlier version's pickle that is not plain data ({exc})")
    return Unverified("no parameters were stored with it")


def _parameters_text(extra) -> str:
    """The parameters a ParameterInvariant stored, as the text stored with them."""
    if type(extra) is not tuple or len(extra) < 2:
        return "(unknown)"
    if extra[0] in ("repr", "value"):
        return str(extra[1])[:500]
    value = _stored_parameters(extra)  # an earlier version's pickle: plain values only
    return "(unreadable)" if type(value) is Unverified else repr(value)[:500]


def _describe_files_change(old, stats: dict) -> list[str]:
    """Which files are new or have another content hash than in `old` (a file invariant's record)."""
    before = old.extra if isinstance(old.extra, dict) else {}
    lines = []
    for name, (_mtime, size, digest) in stats.items():
        previous = before.get(name)
        if previous is None:
            lines.append(f"{name}: new file")
        elif previous[2] != digest:
            lines.append(f"{name}: content changed (size {previous[1]} -> {size}, "
                         f"hash {previous[2]:016x} -> {digest:016x})")
    return lines
