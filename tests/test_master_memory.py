"""Jobs stay small: edges read as sets, what every job has sits in slots (a run's outcome
fields too), and jobs still take any attribute, pickle and copy as before."""

import copy
import pickle

import cloudpickle
import pytest

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


def test_edges_of_one_job_and_of_invariants(new_pipegraph):
    job = ppg.FileGeneratingJob("one", write_x)
    up = ppg.FileGeneratingJob("up", write_x)
    job.depends_on(up)
    assert up.dependants == {job} and len(up.dependants) == 1 and list(up.dependants) == [job]
    assert up.dependants and job in up.dependants and up not in up.dependants
    assert repr(up.dependants) == repr({job}) and up.dependants.copy() == {job}
    up.dependants.discard(up)  # not there: nothing happens
    assert up.dependants == {job}
    up.dependants.add(job)
    assert len(up.dependants) == 1
    assert up.dependants.pop() is job and not up.dependants and len(up.dependants) == 0
    with open("in.txt", "w") as fh:
        fh.write("in")
    first, second = ppg.FileInvariant("in.txt"), ppg.ParameterInvariant("p", (1,))
    job.depends_on(first, second)
    assert first.prerequisites == set() == second.prerequisites and not first.prerequisites
    assert first.dependants == {job} and job.prerequisites == {up, first, second}
    with pytest.raises(ppg.JobContractError, match="invariants cannot depend on other jobs"):
        first.prerequisites.add(job)
    with pytest.raises(ppg.JobContractError):
        first.depends_on(up)
    assert first.prerequisites == set() and second.prerequisites == set()


def test_a_run_sets_outcome_fields_outside_the_jobs_dicts(new_pipegraph):
    jobs = [ppg.FileGeneratingJob(f"out{i}", write_x) for i in range(3)]
    invariant = ppg.FileInvariant("input.txt")
    with open("input.txt", "w") as fh:
        fh.write("in")
    jobs[0].depends_on(invariant)
    assert jobs[0].was_run is False and jobs[0].failed is False and jobs[0].stdout == ""
    ppg.run_pipegraph()
    assert all(job.was_run and not job.failed and job.run_reasons for job in jobs)
    assert jobs[0].stop_time >= jobs[0].start_time
    function_invariant = new_pipegraph_job("out0_func")
    for job in (*jobs, invariant, function_invariant):
        assert vars(job) == {}, job  # everything the engine set is in slots


def new_pipegraph_job(job_id):
    return ppg.util.global_pipegraph.jobs[job_id]


class Counter(ppg.Job):
    """A 0.197 library's plain job: its own attributes, set before and after Job.__init__."""

    def __init__(self, job_id, start):
        self.count = start
        ppg.Job.__init__(self, job_id)
        self.label = "counter"

    def run(self):
        self.count += 1


class Report(ppg.FileGeneratingJob):
    """A 0.197 library's output job that keeps a setting of its own."""

    def __init__(self, filename, text):
        self.text = text
        ppg.FileGeneratingJob.__init__(self, filename, self.write)

    def write(self, of):
        with open(of, "w") as fh:
            fh.write(self.text)


@pytest.mark.filterwarnings("ignore:report.txt_func")  # its callback is a bound method, said once
def test_library_subclasses_and_jobs_take_attributes_of_their_own(new_pipegraph):
    counter = Counter("count", 1)
    report = Report("report.txt", "hello")
    report.depends_on(counter)
    report.note = "set on an engine job by a user"
    plain = ppg.FileGeneratingJob("plain.txt", write_x)
    plain.owner = "me"
    ppg.run_pipegraph()
    assert counter.count == 2 and counter.label == "counter"  # run() ran in the master
    assert open("report.txt").read() == "hello"
    assert vars(report) == {"text": "hello", "note": "set on an engine job by a user"}
    assert plain.owner == "me" and vars(plain) == {"owner": "me"}
    assert report.filenames == ["report.txt"] and report.rule == "Report.write"


def double_x(of):
    with open(of, "w") as fh:
        fh.write("xx")


def test_a_job_pickles_and_copies_with_slots_and_own_attributes(new_pipegraph):
    job = ppg.FileGeneratingJob("out.txt", double_x, empty_ok=True)
    job.owner = "me"
    for restored in (cloudpickle.loads(cloudpickle.dumps(job)),  # as jobs travel to Dask workers
                     pickle.loads(cloudpickle.dumps(job))):
        assert type(restored) is ppg.FileGeneratingJob and restored is not job
        assert restored.job_id == "out.txt" and restored.filenames == ["out.txt"]
        assert restored.callback is double_x and restored.empty_ok and restored.owner == "me"
        assert restored.prerequisites == set() and restored.failed is False
    twin = copy.copy(job)
    assert twin.job_id == job.job_id and twin.callback is job.callback and twin.owner == "me"
    invariant = ppg.FunctionInvariant("watch", lambda: 3)
    restored = cloudpickle.loads(cloudpickle.dumps(invariant))
    assert restored.function() == 3 and restored.fingerprint == invariant.fingerprint
