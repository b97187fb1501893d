"""The Arvados Crunch SDK draft's names on the futures API, so its scripts run as written.

Invariant: nothing here schedules work itself. `WorkMethod()` is `ppg.work` for methods,
`CrunchModule` is a plain base class, and `AutoDispatcher().run_work(Module, **params)`
calls `Module().run(**params)` in the current pipegraph (a new one when there is none
or it already ran), runs the graph and returns run()'s output with every future in it
replaced by its value (the draft's "combine the outputs of these").

    >>> from pypipegraph.futures.crunch import CrunchModule, WorkMethod, AutoDispatcher  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .. import state
from ..graph import new_pipegraph, run_pipegraph
from .future import Future, _walk
from .work import work


def WorkMethod(**options):  # noqa: N802 - the draft's name
    """`@WorkMethod()` on a method of a CrunchModule: takes ppg.work's keyword arguments."""
    return work(**options)


class CrunchModule:
    """Base class of a script's module: define `run(self, ...)` and `@WorkMethod()` methods."""

    def run(self, **params):  # pragma: no cover - the script defines it
        raise NotImplementedError(f"{type(self).__name__} must define run()")


class AutoDispatcher:
    """Runs a CrunchModule on the executor the graph's resource coordinator picks
    (local workers, or Dask when $PYPIPEGRAPH_DASK_SCHEDULER is set)."""

    def __init__(self, **pipegraph_options):
        self.pipegraph_options = pipegraph_options

    def run_work(self, module: type, **params) -> Any:
        graph = state.global_pipegraph
        if graph is None or graph.has_run or self.pipegraph_options:
            new_pipegraph(**self.pipegraph_options)
        output = module().run(**params)
        run_pipegraph()
        return _walk(output, lambda item: item.value() if isinstance(item, Future) else item)
