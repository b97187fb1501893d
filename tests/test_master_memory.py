"""Jobs stay small: edges read as sets, a run's outcome fields keep jobs' dicts shared."""

import sys

import pypipegraph as ppg


def write_x(of):
    with open(of, "w") as fh:
        fh.write("x")


def test_edges_read_as_sets_small_and_large(new_pipegraph):
    final = ppg.FileGeneratingJob("final", write_x)
    ups = [ppg.FileGeneratingJob(f"up{i}", write_x) for i in range(20)]
    final.depends_on(ups[:3])
    assert final.prerequisites == set(ups[:3]) and len(final.prerequisites) == 3
    final.depends_on(ups)  # past the small form, and each edge once
    assert final.prerequisites == set(ups) and len(final.prerequisites) == 20
    assert set(ups[:2]) <= final.prerequisites and final.prerequisites - set(ups[1:]) == {ups[0]}
    assert all(final in up.dependants for up in ups) and ups[0].prerequisites == set()
    final.prerequisites.discard(ups[0])
    assert ups[0] not in final.prerequisites and len(final.prerequisites) == 19


def test_a_run_sets_outcome_fields_without_unsharing_the_jobs_dicts(new_pipegraph):
    jobs = [ppg.FileGeneratingJob(f"out{i}", write_x) for i in range(3)]
    before = sys.getsizeof(jobs[0].__dict__)
    assert jobs[0].was_run is False and jobs[0].failed is False and jobs[0].stdout == ""
    ppg.run_pipegraph()
    assert all(job.was_run and not job.failed and job.run_reasons for job in jobs)
    assert jobs[0].stop_time >= jobs[0].start_time
    assert sys.getsizeof(jobs[0].__dict__) == before
