"""The seed's 30-second summary, run twice."""

import pypipegraph as ppg

from conftest import read


def build():
    def do_a():
        with open("sampleA.txt", "w") as fh:
            fh.write("hello world")

    def do_b():
        with open("sampleB.txt", "w") as fh:
            fh.write(read("sampleA.txt") + ", once again")

    job_a = ppg.FileGeneratingJob("sampleA.txt", do_a)
    job_b = ppg.FileGeneratingJob("sampleB.txt", do_b)
    job_b.depends_on(job_a)
    return job_a, job_b


def test_thirty_second_summary(new_pipegraph):
    job_a, job_b = build()
    ppg.run_pipegraph()
    assert read("sampleB.txt") == "hello world, once again"
    assert job_a.was_run and job_b.was_run
    new_pipegraph.new_pipegraph()
    job_a, job_b = build()
    ppg.run()
    assert not job_a.was_run and not job_b.was_run
