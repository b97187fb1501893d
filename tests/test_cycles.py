"""Cycle errors name the jobs in order and point at the depends_on calls that made them."""

import pytest

import pypipegraph as ppg


def test_cycle_error_points_at_each_depends_on_call(new_pipegraph):
    a = ppg.FileGeneratingJob("out/a", lambda of: None)
    b = ppg.FileGeneratingJob("out/b", lambda of: None)
    c = ppg.FileGeneratingJob("out/c", lambda of: None)
    b.depends_on(a); line_b = _line()  # noqa: E702
    c.depends_on(b); line_c = _line()  # noqa: E702
    a.depends_on([c]); line_a = _line()  # noqa: E702
    with pytest.raises(ppg.CycleError) as info:
        ppg.run()
    message = str(info.value)
    assert info.value.cycle in (["out/a", "out/b", "out/c"], ["out/b", "out/c", "out/a"],
                                ["out/c", "out/a", "out/b"])
    assert f"out/b depends on out/a  ({__file__}:{line_b})" in message
    assert f"out/c depends on out/b  ({__file__}:{line_c})" in message
    assert f"out/a depends on out/c  ({__file__}:{line_a})" in message
    assert not any(job.was_run for job in (a, b, c))


def test_two_job_cycle_is_refused_at_the_call(new_pipegraph):
    a = ppg.FileGeneratingJob("out/a", lambda of: None)
    b = ppg.FileGeneratingJob("out/b", lambda of: None).depends_on(a)
    with pytest.raises(ppg.CycleError, match="out/a.*out/b"):
        a.depends_on(b)


def _line() -> int:
    import sys

    return sys._getframe(1).f_lineno
