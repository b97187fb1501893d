"""Many jobs made in one loop share one function's code: what is computed once for that
code (its hash, the globals it reads) must not hide a change of any one job's inputs."""

from pathlib import Path

import pypipegraph as ppg
from pypipegraph.hashing import forget_global_values, function_fingerprint
from pypipegraph.ordering import topological_order

from conftest import append, read, runs

SUFFIX = "!"  # a module-level constant the jobs' shared function reads
N = 6


def fan(values=None, variant="a"):
    """N output jobs from one loop (one code object), job i writing `variant`, its value
    and SUFFIX; each depends on its own input file in/i."""
    values = values or list(range(N))
    jobs = []
    for i, value in enumerate(values):
        if variant == "a":
            def work(of, i=i, value=value):
                append(f"out/{i}.count", "x")
                Path(of).write_text(f"a {value} {read(f'in/{i}')}{SUFFIX}")
        else:
            def work(of, i=i, value=value):
                append(f"out/{i}.count", "x")
                Path(of).write_text(f"b {value} {read(f'in/{i}')}{SUFFIX}")
        jobs.append(ppg.FileGeneratingJob(f"out/{i}", work).depends_on(ppg.FileInvariant(f"in/{i}")))
    return jobs


def counts() -> list[int]:
    return [runs(f"out/{i}.count") for i in range(N)]


def first_run(new_pipegraph):
    Path("in").mkdir()
    for i in range(N):
        Path(f"in/{i}").write_text(f"input {i}\n")
    fan()
    ppg.run()
    assert counts() == [1] * N


def test_rerun_of_jobs_sharing_code_runs_nothing(new_pipegraph):
    first_run(new_pipegraph)
    new_pipegraph.new_pipegraph()
    jobs = fan()
    ppg.run()
    assert not any(job.was_run for job in jobs)
    assert counts() == [1] * N


def test_changed_shared_function_reruns_every_job(new_pipegraph):
    first_run(new_pipegraph)
    new_pipegraph.new_pipegraph()
    fan(variant="b")
    ppg.run()
    assert counts() == [2] * N
    assert read("out/0").startswith("b 0")


def test_changed_constant_read_by_shared_function_reruns_every_job(new_pipegraph, monkeypatch):
    first_run(new_pipegraph)
    monkeypatch.setattr(__import__(__name__), "SUFFIX", "?")
    new_pipegraph.new_pipegraph()  # a new graph reads module-level values again
    fan()
    ppg.run()
    assert counts() == [2] * N
    assert read("out/3").endswith("?")


def test_one_changed_default_reruns_that_job_only(new_pipegraph):
    first_run(new_pipegraph)
    new_pipegraph.new_pipegraph()
    values = list(range(N))
    values[2] = "changed"
    fan(values)
    ppg.run()
    assert counts() == [1, 1, 2, 1, 1, 1]
    assert read("out/2").startswith("a changed")


def test_one_changed_input_file_among_many_is_noticed(new_pipegraph):
    first_run(new_pipegraph)
    Path("in/4").write_text("input 4, edited\n")
    new_pipegraph.new_pipegraph()
    fan()
    ppg.run()
    assert counts() == [1, 1, 1, 1, 2, 1]
    assert "edited" in read("out/4")


def test_fingerprints_of_one_loops_functions_differ_by_their_defaults_only(new_pipegraph):
    def make(value):
        def work(of, value=value):
            return value, SUFFIX
        return work

    first, again, other = make(1), make(1), make(2)
    warm = [function_fingerprint(f) for f in (first, again, other)]
    forget_global_values()  # computed afresh, without what was kept for the shared code
    cold = [function_fingerprint(f) for f in (first, again, other)]
    assert warm == cold
    assert warm[0] == warm[1] != warm[2]


def test_ordering_a_subset_whose_jobs_depend_on_jobs_outside_it(new_pipegraph):
    a = ppg.FileGeneratingJob("out/a", lambda of: None)
    b = ppg.FileGeneratingJob("out/b", lambda of: None).depends_on(a)
    c = ppg.FileGeneratingJob("out/c", lambda of: None).depends_on(b)
    d = ppg.FileGeneratingJob("out/d", lambda of: None).depends_on(c, a)
    assert topological_order([d, c, b]) == [b, c, d]  # a is upstream of b and d, not ordered
