"""Where code comes from: the user's own modules versus installed packages.

Invariant: answers depend only on a module's file location and installed package
metadata, and are cached per module name. Function fingerprints follow globals into
the user's modules; for installed packages and the standard library they stop, and
an installed package counts by its version instead.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
from functools import cache, lru_cache

ENGINE = __name__.split(".")[0]
ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_engine_module(module_name: str | None) -> bool:
    """True for pypipegraph itself and its submodules: the one answer to "is this the
    engine's own code?" by module name (see `is_engine_file` for code objects)."""
    return bool(module_name) and (module_name == ENGINE or module_name.startswith(ENGINE + "."))


def is_engine_file(filename: str) -> bool:
    """True for a source file of the engine (a code object's co_filename)."""
    return filename.startswith(ENGINE_DIR)


@cache
def _installed_roots() -> tuple[str, ...]:
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path))
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        roots.add(os.path.realpath(os.path.join(prefix, "lib")))
    return tuple(sorted(roots))


@lru_cache(maxsize=4096)
def is_user_module(module_name: str | None) -> bool:
    """True for the script (`__main__`) and modules that are not installed packages,
    not the standard library and not pypipegraph itself."""
    if not module_name:
        return False
    if module_name == "__main__":
        return True
    top = module_name.split(".")[0]
    if top == ENGINE or top in sys.stdlib_module_names:
        return False
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if not filename:
        return False
    path = os.path.realpath(filename)
    return not any(path.startswith(root + os.sep) for root in _installed_roots())


@lru_cache(maxsize=4096)
def package_version(module_name: str | None) -> str | None:
    """'name==version' of the installed distribution a module belongs to, if any."""
    if not module_name:
        return None
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return None
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return f"{top}=={version}"
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        return f"{top}=={dist_version(top)}"
    except (PackageNotFoundError, ValueError):
        return None


def user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` from the first frame outside pypipegraph on (the user's code).

    The engine's own frames before it (worker loop, job wrappers) say nothing to the
    user; a traceback that never left the engine is kept whole.
    """
    tb = exc.__traceback__
    while tb is not None and is_engine_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))

