"""The Arvados Crunch SDK draft's names under their documented path (`pypipegraph.crunch`).

Invariant: re-exports only; the names live in pypipegraph.futures.crunch.
"""

from .futures.crunch import AutoDispatcher, CrunchModule, WorkMethod

__all__ = ["AutoDispatcher", "CrunchModule", "WorkMethod"]
