"""Pickling the user's script functions so that they keep the script's real globals.

Invariant: a function defined in `__main__` and pickled with `reduce_main_function` is
rebuilt around `sys.modules["__main__"].__dict__` of the process that unpickles it (a
forked worker shares the master's `__main__`), never around a private copy of the
globals, so it sees data a loader stores in a module-level dict later. `dumps` pickles a
value holding the script's classes by their names also in a process whose `__main__` is
not the script, with the bytes the script's process writes.
"""

from __future__ import annotations

import io
import pickle
import sys
import types


def reduce_main_function(func) -> tuple:
    """A `reducer_override` result for `func`: code, closure values and attributes travel;
    the globals are the unpickling process's `__main__`."""
    cells = func.__closure__ or ()
    values = []
    for cell in cells:
        try:
            values.append(cell.cell_contents)
        except ValueError:
            values.append(_EMPTY_CELL)
    state = (func.__defaults__, func.__kwdefaults__, values, func.__dict__, func.__qualname__)
    return (_main_function_skeleton, (func.__code__, func.__name__, len(cells)), state, None, None,
            _main_function_fill)


class _EmptyCell:
    def __reduce__(self):
        return "_EMPTY_CELL"


_EMPTY_CELL = _EmptyCell()


def _main_function_skeleton(code, name, n_cells):
    closure = tuple(types.CellType() for _ in range(n_cells)) or None
    return types.FunctionType(code, sys.modules["__main__"].__dict__, name, None, closure)


def _main_function_fill(func, state):
    defaults, kwdefaults, values, attributes, qualname = state
    func.__defaults__ = defaults
    func.__kwdefaults__ = kwdefaults
    func.__qualname__ = qualname
    func.__dict__.update(attributes)
    for cell, value in zip(func.__closure__ or (), values, strict=True):
        if value is not _EMPTY_CELL:
            cell.cell_contents = value


class _ScriptByName(pickle._Pickler):
    """The pure-Python pickler, writing a class or function of `__main__` by its name even
    where this process's `__main__` is not the script (a fresh Python on a cluster node,
    where the script's classes arrived by value). The bytes are the ones the script's own
    process writes, so a value fingerprints alike in both, and it unpickles in the master."""

    def save_global(self, obj, name=None):
        if getattr(obj, "__module__", None) != "__main__" or self.proto < 4:
            return super().save_global(obj, name)
        name = name or getattr(obj, "__qualname__", None) or obj.__name__
        main = sys.modules.get("__main__")
        found = main
        for part in name.split("."):
            found = getattr(found, part, None)
        if found is obj:
            return super().save_global(obj, name)
        self.save("__main__")  # as pickle writes a global at protocol 4 and above
        self.save(name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)
        return None

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[types.FunctionType] = save_global


def dumps(value, protocol: int = 4) -> bytes:
    """`pickle.dumps`; where that fails on a class or function of the script (`__main__`
    is not the script here), the same bytes written by name (`_ScriptByName`)."""
    try:
        return pickle.dumps(value, protocol=protocol)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        if "__main__" not in str(exc) or protocol < 4:
            raise
    buffer = io.BytesIO()
    _ScriptByName(buffer, protocol=protocol).dump(value)
    return buffer.getvalue()


_script_names: dict = {}  # in a fresh worker: the script's classes and functions that arrived by value


def adopt(names: dict) -> None:
    """A worker whose `__main__` is not the script learns the script's names (from the job
    list it loaded), so values pickled by name (`dumps`) unpickle there too."""
    _script_names.update(names)


def script_names(main_globals: dict) -> dict:
    """The classes and functions the script (`main_globals`) defines itself."""
    return {name: obj for name, obj in main_globals.items()
            if isinstance(obj, (type, types.FunctionType)) and getattr(obj, "__module__", None) == "__main__"}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "__main__" and _script_names:
            try:
                return super().find_class(module, name)
            except AttributeError:
                found = _script_names.get(name.split(".")[0])
                for part in name.split(".")[1:]:
                    found = getattr(found, part, None)
                if found is None:
                    raise
                return found
        return super().find_class(module, name)


def loads(data: bytes):
    """`pickle.loads`, finding the script's names in a worker where `__main__` is not the script."""
    if not _script_names:
        return pickle.loads(data)
    return _Unpickler(io.BytesIO(data)).load()
