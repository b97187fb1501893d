"""Objects that keep their attributes in `__slots__` with a `__dict__` for any other.

Invariant: reading here never creates an object's `__dict__`, and a pickled or copied
object comes back with its slot values and its dict as they were, without its class's
`__new__` running (a job's `__new__` looks its id up in the current graph).
"""

from __future__ import annotations

import inspect
from types import MemberDescriptorType
from typing import Any


def reduce_without_new(obj: object) -> tuple:
    """`__reduce_ex__`'s answer for `obj`: recreated without calling its class's `__new__`,
    its state pickle's (instance dict, slot values) pair, which pickle and copy restore."""
    slots = {}
    for name, slot in _slots_of(type(obj)):
        try:
            slots[name] = slot.__get__(obj)
        except AttributeError:  # not set
            continue
    return (_restore, (type(obj),), (getattr(obj, "__dict__", None) or None, slots))


def _restore(cls):
    return object.__new__(cls)


_slot_cache: dict = {}


def _slots_of(cls: type) -> list:
    """(name, descriptor) of every slot of `cls` and its bases but `__dict__`."""
    found = _slot_cache.get(cls)
    if found is None:
        found = []
        for klass in cls.__mro__:
            for name in klass.__dict__.get("__slots__", ()):
                slot = klass.__dict__.get(name)
                if isinstance(slot, MemberDescriptorType):
                    found.append((name, slot))
        _slot_cache[cls] = found
    return found


_MISSING = object()
_static: dict = {}  # (class, name) -> what the class itself has under that name (or _MISSING)


def own_attribute(obj: object, name: str, default: Any = None) -> Any:
    """The attribute `name` as set on `obj` itself (in a slot or its `__dict__`), not a
    method or default of its class; `default` when it has none. Unlike
    `obj.__dict__.get(name)` this never creates the dict of an object that has none yet."""
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        return default
    key = type(obj), name
    static = _static.get(key)
    if static is None:
        static = _static[key] = inspect.getattr_static(type(obj), name, _MISSING)
    if static is _MISSING or isinstance(static, MemberDescriptorType):
        return value  # only the instance has it
    if hasattr(type(static), "__set__"):
        return default  # a property (or other data descriptor) of the class computed it
    if value is static or getattr(value, "__func__", _MISSING) is getattr(static, "__func__", static):
        return default  # the class's own value or method
    return value
