"""Fingerprints: of files, of Python values and of functions.

Invariant: a fingerprint depends only on content, never on memory addresses,
hash seeds or dict/set iteration order, so it is stable across processes and runs.
Function fingerprints ignore line numbers, docstrings and comments; they are cached
per code object, so 10 000 jobs sharing one lambda hash its byte code once.
This module knows nothing about jobs or the store.

    >>> hash_value({"a": 1, "b": [1, 2]}) == hash_value({"b": [1, 2], "a": 1})
    True
"""

from __future__ import annotations

import dis
import functools
import inspect
import os
import pickle
import re
import sys
import types
from collections.abc import Callable
from typing import Any

import xxhash

from .plumbing import script_functions
from .plumbing.modules import is_user_module, package_version

_CHUNK = 1 << 20
PYTHON_VERSION = "%d.%d" % sys.version_info[:2]


def hash_bytes(data: bytes) -> int:
    """64-bit xxh3 of `data`."""
    return xxhash.xxh3_64_intdigest(data)


def hash_file(path: str) -> int:
    """64-bit xxh3 of a file's content, read in 1 MiB chunks (raw fds: no buffering,
    no isatty probing, which matters at 100 000 small files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        block = os.read(fd, _CHUNK)
        if len(block) < _CHUNK:
            return xxhash.xxh3_64_intdigest(block)
        hasher = xxhash.xxh3_64(block)
        while True:
            block = os.read(fd, _CHUNK)
            if not block:
                return hasher.intdigest()
            hasher.update(block)
    except OSError as exc:  # a directory, an unreadable device: name the path
        raise type(exc)(exc.errno, exc.strerror, path) from None
    finally:
        os.close(fd)


def file_stat(path: str) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, or None when it does not exist."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_mtime_ns, st.st_size


def combine(parts) -> int:
    """Order-sensitive combination of (key, int) pairs or ints into one fingerprint."""
    hasher = xxhash.xxh3_64()
    for part in parts:
        hasher.update(repr(part).encode())
        hasher.update(b"\x00")
    return hasher.intdigest()


# --- values -----------------------------------------------------------------


def hash_value(value: Any) -> int:
    """A stable 64-bit fingerprint of a Python value.

    Handles the builtin containers (dicts and sets independent of order), functions
    (by `function_fingerprint`), numpy arrays and pandas objects by content, and
    falls back to pickle. Raises `TypeError` for values that cannot be fingerprinted.
    """
    return _sub(value, set(), True)


def _sub(value: Any, seen: set, strict: bool) -> int:
    hasher = xxhash.xxh3_64()
    _feed(hasher, value, seen, strict)
    return hasher.intdigest()


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _feed(hasher, value: Any, seen: set, strict: bool = True) -> None:  # noqa: C901 - one dispatch table
    """Feed `value` into `hasher`. Not `strict` (closure values): what cannot be
    pickled counts by its repr without memory addresses instead of raising."""
    t = type(value)
    if value is None or t in (bool, int, float, complex):
        hasher.update(b"%s:%r|" % (t.__name__.encode(), value))
        return
    if t is str:
        hasher.update(b"s%d:" % len(value))
        hasher.update(value.encode("utf-8", "surrogatepass"))
        return
    if t in (bytes, bytearray):
        hasher.update(b"b%d:" % len(value))
        hasher.update(value)
        return
    key = id(value)
    if key in seen:
        hasher.update(b"<recursion>")
        return
    seen.add(key)
    try:
        if isinstance(value, (tuple, list)):
            hasher.update(b"%s%d(" % (t.__name__.encode(), len(value)))
            for item in value:
                _feed(hasher, item, seen, strict)
            hasher.update(b")")
        elif isinstance(value, dict):
            hasher.update(b"dict%d{" % len(value))
            for item_hash in sorted((_sub(k, seen, strict), _sub(v, seen, strict)) for k, v in value.items()):
                hasher.update(b"%d:%d," % item_hash)
            hasher.update(b"}")
        elif isinstance(value, (set, frozenset)):
            hasher.update(b"set%d{" % len(value))
            for item_hash in sorted(_sub(v, seen, strict) for v in value):
                hasher.update(b"%d," % item_hash)
            hasher.update(b"}")
        elif hasattr(t, "__ppg_fingerprint__"):
            hasher.update(b"ppg:" + value.__ppg_fingerprint__().encode())
        elif isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
            hasher.update(b"fn%d" % function_fingerprint(value))
        elif isinstance(value, types.CodeType):
            hasher.update(b"code%d" % _code_fingerprint(value))
        elif isinstance(value, types.ModuleType):
            hasher.update(b"module:" + value.__name__.encode())
        elif isinstance(value, type):
            hasher.update(b"type:%s.%s" % (value.__module__.encode(), value.__qualname__.encode()))
        elif t.__module__ == "numpy" and t.__name__ == "ndarray":
            hasher.update(b"ndarray%s%s" % (str(value.dtype).encode(), str(value.shape).encode()))
            hasher.update(value.tobytes() if value.dtype != object else pickle.dumps(value.tolist()))
        elif t.__module__.startswith("pandas") and hasattr(value, "to_numpy"):
            import pandas as pd

            hasher.update(b"pandas" + t.__name__.encode())
            hasher.update(repr(list(getattr(value, "columns", []))).encode())
            hasher.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        else:
            try:
                data = script_functions.dumps(value, protocol=4)  # the script's classes by name anywhere
            except Exception as exc:
                if not strict:
                    text = _ADDRESS.sub("", "%s:%r" % (t.__qualname__, value))
                    hasher.update(b"repr:" + text.encode("utf-8", "replace"))
                    return
                raise TypeError(
                    f"cannot fingerprint a value of type {t.__qualname__}: {exc}. "
                    "Pass a picklable value (or a repr-able summary of it)."
                ) from exc
            hasher.update(b"pickle:" + data)
    finally:
        seen.discard(key)


# --- functions --------------------------------------------------------------

_code_cache: dict[types.CodeType, int] = {}
_source_cache: dict[types.CodeType, str | None] = {}


_HASCONST = frozenset(dis.hasconst)
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
# Python 3.13+ fuses two local-variable accesses into one instruction only when both are on
# one line: hashed as the two instructions they stand for, a reformatted function is unchanged.
_FUSED = {dis.opmap[name]: tuple(dis.opmap[part] for part in parts) for name, parts in (
    ("LOAD_FAST_LOAD_FAST", ("LOAD_FAST", "LOAD_FAST")),
    ("STORE_FAST_LOAD_FAST", ("STORE_FAST", "LOAD_FAST")),
    ("STORE_FAST_STORE_FAST", ("STORE_FAST", "STORE_FAST")),
) if name in dis.opmap}


def _code_fingerprint(code: types.CodeType) -> int:
    """Byte code with each constant reference replaced by the constant's own hash.

    Constants are hashed where they are used, not by their index in co_consts, so a
    docstring (a constant no instruction loads) changes nothing, while a changed
    literal does. Line numbers live outside co_code and never count; instructions fused
    only when on one line (_FUSED) count as their parts.
    """
    cached = _code_cache.get(code)
    if cached is not None:
        return cached
    hasher = xxhash.xxh3_64()
    raw = code.co_code
    consts = code.co_consts
    extended = 0
    for i in range(0, len(raw), 2):
        op = raw[i]
        arg = raw[i + 1] | extended
        if op == _EXTENDED_ARG:
            extended = arg << 8
            continue
        extended = 0
        if op in _HASCONST:
            const = consts[arg]
            if isinstance(const, types.CodeType):
                hasher.update(b"%d:code%d;" % (op, _code_fingerprint(const)))
            else:
                hasher.update(b"%d:" % op)
                _feed(hasher, const, set(), False)
        elif op in _FUSED:
            first, second = _FUSED[op]
            hasher.update(b"%d,%d;%d,%d;" % (first, arg >> 4, second, arg & 15))
        else:
            hasher.update(b"%d,%d;" % (op, arg))
    hasher.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_argcount,
                        code.co_kwonlyargcount, code.co_flags & 0xFF)).encode())
    result = hasher.intdigest()
    _code_cache[code] = result
    return result


def _unwrap(func: Any) -> Any:
    if isinstance(func, types.MethodType):
        return func.__func__
    return func


_SCALARS = frozenset((str, int, float, bool, type(None)))


_names_cache: dict[types.CodeType, tuple[str, ...]] = {}
_globals_cache: dict[tuple, int] = {}
_prefix_cache: dict[tuple, bytes] = {}  # (code, id(module globals)) -> _code_and_globals()
_cycle_met = [False]  # a walk met a function on its path other than by direct self-reference
_IMMUTABLE = frozenset((str, int, float, bool, type(None), bytes, complex))


def forget_global_values() -> None:
    """Module-level values may have changed (a new graph): re-read them."""
    _globals_cache.clear()
    _prefix_cache.clear()
    _dependencies_cache.clear()


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Names a code object (and code nested in it) may read as globals."""
    names = _names_cache.get(code)
    if names is None:
        found = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found.update(_global_names(const))
        names = _names_cache[code] = tuple(sorted(found))
    return names


def _is_constant(value: Any) -> bool:
    t = type(value)
    if t in _IMMUTABLE:
        return True
    if t in (tuple, frozenset):
        return all(_is_constant(item) for item in value)
    return False


def _globals_fingerprint(func, code: types.CodeType, seen: set) -> int:
    """What a function reads from its module: helper functions of the user's own
    modules (followed, recursively), immutable module-level constants, and the
    versions of installed packages it uses. Mutable globals (dicts a loader fills)
    and the standard library do not count."""
    module_globals = getattr(func, "__globals__", None)
    if not module_globals:
        return 0
    key = (code, id(module_globals))
    cached = _globals_cache.get(key)
    if cached is not None:
        return cached
    outer_cycle = _cycle_met[0]
    _cycle_met[0] = False
    parts = [(name if module is None else f"{name}.{attribute}", _global_value(value, seen, code))
             for name, module, attribute, value in _globals_read(code, module_globals)]
    result = combine(parts) if parts else 0
    cycle = _cycle_met[0]
    if not cycle:
        # No cycle through other functions below: the result does not depend on where
        # the walk started (direct self-reference is the same everywhere), so cache it.
        _globals_cache[key] = result
    _cycle_met[0] = outer_cycle or cycle
    return result


def _global_value(value: Any, seen: set, owner: types.CodeType):
    """How one global a function reads counts (None: it does not)."""
    if _is_constant(value):
        return ("const", hash_value(value))
    if isinstance(value, types.FunctionType):
        if is_user_module(value.__module__):
            if value.__code__ in seen:
                if value.__code__ is not owner:
                    _cycle_met[0] = True
                return ("recursion",)  # its code is hashed where the recursion started
            return ("fn", function_fingerprint(value, seen))
        return ("lib", package_version(value.__module__))
    if isinstance(value, types.ModuleType):
        return ("lib", package_version(value.__name__))
    if isinstance(value, (type, types.BuiltinFunctionType)):
        module = getattr(value, "__module__", None)
        if not is_user_module(module):
            return ("lib", package_version(module))
    return None


def function_fingerprint(func: Callable, _seen: set | None = None) -> int:
    """Fingerprint of a callable: byte code, constants, defaults, closure values, and
    the globals it reads (see _globals_fingerprint).

    Line numbers, docstrings and comments do not count. Builtins and other callables
    without byte code are identified by module and name.
    """
    func = _unwrap(func)
    if isinstance(func, functools.partial):
        return hash_value(("partial", func.func, func.args, func.keywords or {}))
    code = getattr(func, "__code__", None)
    if code is None:
        call = _instance_call(func)
        if call is not None:
            return _callable_instance_fingerprint(func, call)
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
        return hash_bytes(("builtin:%s.%s" % (getattr(func, "__module__", ""), name)).encode())
    prefix = _code_and_globals(func, code, _seen)
    defaults = getattr(func, "__defaults__", None)
    kwdefaults = getattr(func, "__kwdefaults__", None)
    closure = getattr(func, "__closure__", None)
    if not closure and not kwdefaults:  # the common case, hashed in one call
        if not defaults:
            return xxhash.xxh3_64_intdigest(prefix)
        if _SCALARS.issuperset(map(type, defaults)):
            return xxhash.xxh3_64_intdigest(
                prefix + b"defaults:" + repr(defaults).encode("utf-8", "surrogatepass"))
    hasher = xxhash.xxh3_64(prefix)  # the same digest as feeding the parts one by one
    if defaults and not kwdefaults and _SCALARS.issuperset(map(type, defaults)):
        hasher.update(b"defaults:" + repr(defaults).encode("utf-8", "surrogatepass"))
    elif defaults or kwdefaults:
        ids = {id(func)}
        _feed(hasher, defaults, ids, False)
        _feed(hasher, kwdefaults, ids, False)
    if closure:
        ids = {id(func)}
        for name, cell in zip(code.co_freevars, closure, strict=True):
            try:
                contents = cell.cell_contents
            except ValueError:  # empty cell
                hasher.update(b"<empty cell>")
                continue
            if contents is func or name == "self":
                hasher.update(b"<self>")  # 0.197's rule: the instance does not count
                continue
            if _counts_by_class(contents):
                hasher.update(b"class:%s.%s" % (type(contents).__module__.encode(),
                                                type(contents).__qualname__.encode()))
                continue
            _feed(hasher, contents, ids, False)
    return hasher.intdigest()


def _code_and_globals(func, code: types.CodeType, seen: set | None) -> bytes:
    """The first part of a function's fingerprint: its code's and its globals' hashes.
    Cached per (code, module) while the globals' part is (`_globals_fingerprint`): the
    100 000 closures of one loop share one code object and one module."""
    module_globals = getattr(func, "__globals__", None)
    key = (code, id(module_globals)) if module_globals else None
    prefix = _prefix_cache.get(key) if key is not None else None
    if prefix is not None:
        return prefix
    code_part = _code_fingerprint(code)
    seen = seen if seen is not None else set()  # the functions on the current path
    added = code not in seen
    seen.add(code)
    try:
        prefix = b"code%dglobals%d" % (code_part, _globals_fingerprint(func, code, seen))
    finally:
        if added:
            seen.discard(code)
    if key is not None and key in _globals_cache:
        _prefix_cache[key] = prefix
    return prefix


def _instance_call(func: Any) -> types.FunctionType | None:
    """The `__call__` function of a callable object (an instance of a class defining it in
    Python); None for anything else."""
    if isinstance(func, (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return None
    for klass in type(func).__mro__:
        call = klass.__dict__.get("__call__")
        if call is not None:
            return call if isinstance(call, types.FunctionType) else None
    return None


def _instance_state(func: Any) -> list[tuple[str, Any]]:
    """A callable object's attributes, sorted by name (none when it has no `__dict__`)."""
    try:
        return sorted(vars(func).items())
    except TypeError:
        return []


def _callable_instance_fingerprint(func: Any, call: types.FunctionType) -> int:
    """A callable object counts like a function with a closure: its class, its `__call__`,
    and its attributes as closure values count (plain objects by their class)."""
    base = hash_value(("callable", type(func), call))
    state = _instance_state(func)
    if not state:
        return base
    hasher = xxhash.xxh3_64()
    hasher.update(b"callable%d" % base)
    ids = {id(func)}
    for name, value in state:
        hasher.update(name.encode("utf-8", "surrogatepass") + b"=")
        if value is func:
            hasher.update(b"<self>")
        elif _counts_by_class(value):
            hasher.update(b"class:%s.%s" % (type(value).__module__.encode(), type(value).__qualname__.encode()))
        else:
            _feed(hasher, value, ids, False)
    return hasher.intdigest()
_dependencies_cache: dict[tuple, tuple] = {}
_SHOWN = 200  # characters of a constant's repr kept to show how it changed


def function_dependencies(func: Callable) -> tuple[dict, dict]:
    """What a function's fingerprint follows beyond its own code, so that a change can be
    named: ({qualified name: entry}, {source hash: source} of the helpers). Entries:
    ("const", value hash, repr) for a module-level constant, ("fn", fingerprint, source
    hash) for a helper function of the user's own (whose own dependencies are listed too,
    under their names; also the functions in its closure), ("lib", "name==version") for an
    installed package. Values in a closure are not listed (they differ per job: a loop's
    sample name). Cached per code object (and closure functions), like the fingerprint."""
    func = _unwrap(func)
    if isinstance(func, functools.partial):
        func = _unwrap(func.func)
    code = getattr(func, "__code__", None)
    module_globals = getattr(func, "__globals__", None)
    if code is None or not module_globals:
        return {}, {}
    helpers = tuple(_closure_functions(func))  # closures of one code may hold other helpers
    key = (code, id(module_globals), helpers)
    cached = _dependencies_cache.get(key)
    if cached is None:
        found: dict = {}
        texts: dict = {}
        _collect_dependencies(func, found, texts, set())
        cached = _dependencies_cache[key] = (found, texts)
    return cached


def _globals_read(code, module_globals: dict):
    """(name, module or None, attribute, value) of each global `code` reads: a value by its
    name, or, for a user module (`helpers.describe(...)`), each of its attributes among the
    code's names. The one walk both the fingerprint and the named dependencies follow."""
    names = _global_names(code)
    for name in names:
        if name not in module_globals:
            continue
        value = module_globals[name]
        if isinstance(value, types.ModuleType) and is_user_module(value.__name__):
            attributes = vars(value)
            for attribute in names:
                if attribute in attributes:
                    yield name, value, attribute, attributes[attribute]
            continue
        yield name, None, None, value


def _collect_dependencies(func, found: dict, texts: dict, seen: set) -> None:
    code = getattr(func, "__code__", None)
    module_globals = getattr(func, "__globals__", None)
    if code is None or not module_globals or code in seen:
        return
    seen.add(code)
    module_name = module_globals.get("__name__", "?")
    for name, module, attribute, value in _globals_read(code, module_globals):
        qualified = f"{module_name}.{name}" if module is None else f"{module.__name__}.{attribute}"
        _note_dependency(qualified, value, found, texts, seen)
    for helper in _closure_functions(func):
        _note_dependency(f"{helper.__module__}.{helper.__qualname__}", helper, found, texts, seen)


def _closure_functions(func):
    """The functions other than itself in a function's closure."""
    for cell in getattr(func, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:
            continue
        if isinstance(contents, types.FunctionType) and contents is not func:
            yield contents


def _note_dependency(name: str, value: Any, found: dict, texts: dict, seen: set) -> None:
    if name in found:
        return
    if _is_constant(value):
        found[name] = ("const", hash_value(value), repr(value)[:_SHOWN])
    elif isinstance(value, types.FunctionType) and is_user_module(value.__module__):
        source = function_source(value)
        source_hash = hash_value(source) if source is not None else 0
        if source is not None:
            texts[source_hash] = source
        found[name] = ("fn", function_fingerprint(value), source_hash)
        _collect_dependencies(value, found, texts, seen)
    else:
        module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(value, (types.FunctionType, types.ModuleType, type, types.BuiltinFunctionType)) \
                and not is_user_module(module):
            version = package_version(module)
            if version:
                found[name] = ("lib", version)


def _counts_by_class(value: Any) -> bool:
    """A plain object captured in a closure counts by its class (as in 0.197): an instance
    of a user class without its own __repr__ or fingerprint has no meaningful value."""
    t = type(value)
    return (
        t.__repr__ is object.__repr__
        and not hasattr(t, "__ppg_fingerprint__")
        and is_user_module(getattr(t, "__module__", None))
        and not isinstance(value, (types.FunctionType, type, types.ModuleType))
    )


def uncounted_instance_values(func: Callable) -> list[str]:
    """Attribute names of a bound method's instance holding plain values (numbers,
    strings, tuples of them): the fingerprint ignores the instance, so changing them
    does not rerun the job. Used to warn at definition time."""
    owner = getattr(func, "__self__", None)
    if owner is None or isinstance(owner, (type, types.ModuleType)):
        return []
    try:
        attributes = vars(owner)
    except TypeError:
        return []
    return sorted(name for name, value in attributes.items()
                  if not name.startswith("_") and _is_constant(value))


def function_source(func: Callable) -> str | None:
    """The source text of a function (cached per code object), or None if unavailable."""
    func = _unwrap(func)
    if isinstance(func, functools.partial):
        func = func.func
    call = _instance_call(func)
    if call is not None:  # its state shows under its code, so that a diff names what changed
        source = function_source(call)
        lines = [f"#   {name} = {_shown_value(value)}" for name, value in _instance_state(func)]
        return source if source is None or not lines else source + "# the object's attributes:\n" + "\n".join(lines)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    if code in _source_cache:
        return _source_cache[code]
    try:
        source = inspect.getsource(code)
    except (OSError, TypeError):
        source = None
    _source_cache[code] = source
    return source


def _shown_value(value: Any) -> str:
    """A short repr without memory addresses, for the source text a diff shows."""
    try:
        text = _ADDRESS.sub("", repr(value))
    except Exception:  # noqa: BLE001 - a broken __repr__
        text = f"<{type(value).__qualname__}>"
    return text if len(text) <= 200 else text[:200] + "..."


def describe_function(func: Callable) -> str:
    """'module.qualname' of a callable, for messages."""
    func = _unwrap(func)
    if isinstance(func, functools.partial):
        func = func.func
    call = _instance_call(func)
    if call is not None:  # a callable object: its class's __call__, never its address
        func = call
    return "%s.%s" % (
        getattr(func, "__module__", "?"),
        getattr(func, "__qualname__", getattr(func, "__name__", repr(func))),
    )
