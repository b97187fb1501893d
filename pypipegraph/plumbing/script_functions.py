"""Pickling the user's script functions so that they keep the script's real globals.

Invariant: a function defined in `__main__` and pickled with `reduce_main_function` is
rebuilt around `sys.modules["__main__"].__dict__` of the process that unpickles it (a
forked worker shares the master's `__main__`), never around a private copy of the
globals, so it sees data a loader stores in a module-level dict later.
"""

from __future__ import annotations

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
