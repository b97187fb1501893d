"""Defining a job twice: the same definition is the same job; a different one is refused."""

import pytest

import pypipegraph as ppg


def test_same_code_other_defaults_is_refused(new_pipegraph):
    first = None
    with pytest.raises(ValueError, match="same function code but different default arguments"):
        for sample in ["a", "b"]:
            job = ppg.FileGeneratingJob("out/summary.txt", lambda of, s=sample: open(of, "w").write(s) and None)
            first = first or job


def test_same_code_other_closure_is_refused_for_loaders(new_pipegraph):
    def make(value):
        return lambda: value

    ppg.DataLoadingJob("load", make(1))
    with pytest.raises(ValueError, match="closure values"):
        ppg.DataLoadingJob("load", make(2))


def test_identical_redefinition_returns_the_same_job(new_pipegraph):
    def make(value):
        return lambda of: open(of, "w").write(value) and None

    assert ppg.FileGeneratingJob("out/x", make("1")) is ppg.FileGeneratingJob("out/x", make("1"))
