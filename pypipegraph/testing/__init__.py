"""Helpers for the test suites of libraries built on pypipegraph (0.197's `pypipegraph.testing`).

Invariant: each helper behaves the same with and without a current pipegraph, so one
library test runs both ways (see `fixtures.both_ppg_and_no_ppg`).
"""

from __future__ import annotations

import itertools
from typing import Any

from .. import util
from ..errors import RuntimeError as PipegraphFailed
from ..jobs.base import Job
from ..jobs.generating import JobGeneratingJob

_force_load_numbers = itertools.count(1)


def run_pipegraph() -> None:
    """Run the current pipegraph, if there is one (outside a graph: nothing to do)."""
    if util.global_pipegraph is not None:
        util.global_pipegraph.run()


def force_load(job: Any, prefix: str | None = None):
    """Make sure a loading job loads in this run: a JobGeneratingJob depending on it
    (id `<job id>_force_load`). Outside a graph: None."""
    if util.global_pipegraph is None:
        return None
    if isinstance(job, Job):
        prefix = job.job_id
    elif prefix is None:
        prefix = "fl_%i" % next(_force_load_numbers)
    return JobGeneratingJob(prefix + "_force_load", _nothing).depends_on(job)


def _nothing() -> None:
    return None


class RaisesDirectOrInsidePipegraph:
    """Like `pytest.raises`, for code that raises at once without a graph, and inside a
    job (so `run_pipegraph()` raises ppg.RuntimeError) with one.

        with RaisesDirectOrInsidePipegraph(ValueError, "bad genome"):
            build_things()
    """

    def __init__(self, expected_exception: type, search_message: str | None = None):
        self.expected_exception = expected_exception
        self.search_message = search_message
        self.excinfo = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        import pytest


        __tracebackhide__ = True
        if util.global_pipegraph is not None:
            if exc_type is not None:
                return False  # raised while building the graph: not what was expected
            with pytest.raises(PipegraphFailed) as info:
                run_pipegraph()
            inner = info.value.exceptions[0]
            assert isinstance(inner, self.expected_exception), (
                f"expected {self.expected_exception.__name__} inside the pipegraph, got "
                f"{type(inner).__name__}: {inner}"
            )
            if self.search_message:
                assert self.search_message in str(inner), (
                    f"{self.search_message!r} not in the message {str(inner)!r}"
                )
            self.value = inner
            return False
        if exc_type is None:
            pytest.fail(f"DID NOT RAISE {self.expected_exception}")
        self.value = exc
        self.type = exc_type
        if not issubclass(exc_type, self.expected_exception):
            return False
        if self.search_message:
            assert self.search_message in str(exc), f"{self.search_message!r} not in {str(exc)!r}"
        return True


__all__ = ["RaisesDirectOrInsidePipegraph", "force_load", "run_pipegraph"]
