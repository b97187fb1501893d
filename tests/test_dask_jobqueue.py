"""Per-job cluster settings: `job.cluster(...)`, named profiles in ppg-cluster.toml, one
dask-jobqueue cluster per distinct setting. Rendered as Slurm, PBS and SGE job scripts
(no batch system needed) and run for real on dask-jobqueue's local backend."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("dask_jobqueue")
import cloudpickle  # noqa: E402

import pypipegraph as ppg  # noqa: E402
from pypipegraph.resources import ResourceError  # noqa: E402

from conftest import read  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

CONFIG = """\
[cluster]
cores = 8
memory = "32GB"
walltime = "01:00:00"

[profiles.gpu]
queue = "gpu"
walltime = "12:00:00"
"""


def coordinator(backend: str, **kwargs) -> ppg.JobqueueCoordinator:
    Path("ppg-cluster.toml").write_text(CONFIG)
    return ppg.JobqueueCoordinator(backend, account="mylab", queue="normal", **kwargs)


def directives(script: str, prefix: str) -> list[str]:
    return [line for line in script.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("backend, prefix, expected", [
    ("slurm", "#SBATCH", ["#SBATCH -p gpu", "#SBATCH -A lab2", "#SBATCH -t 24:00:00",
                          "#SBATCH --gres=gpu:1"]),
    ("pbs", "#PBS", ["#PBS -q gpu", "#PBS -A lab2", "#PBS -l walltime=24:00:00", "#PBS --gres=gpu:1"]),
    ("sge", "#$", ["#$ -q gpu", "#$ -P lab2", "#$ -l h_rt=24:00:00", "#$ --gres=gpu:1"]),
])
def test_job_settings_and_profile_render_into_the_batch_script(ppg_dir, backend, prefix, expected):
    rc = coordinator(backend)
    ppg.new_pipegraph(resource_coordinator=rc, quiet=True)
    plain = ppg.FileGeneratingJob("out/plain", lambda of: None)
    gpu = ppg.FileGeneratingJob("out/gpu", lambda of: None).cluster(
        "gpu", walltime="24:00:00", account="lab2", extra=["--gres=gpu:1"])
    script = rc.job_script(gpu)
    rendered = directives(script, prefix)
    for line in expected:
        assert line in rendered, (line, rendered)
    assert "--resources cores=8" in script  # the workers declare their cores
    default = directives(rc.job_script(plain), prefix)
    assert expected[0].replace("gpu", "normal") in default and expected[1].replace("lab2", "mylab") in default
    assert not any("gres" in line for line in default)


def test_an_unknown_profile_names_the_job_and_the_profiles(ppg_dir):
    rc = coordinator("local")
    ppg.new_pipegraph(resource_coordinator=rc, quiet=True)
    job = ppg.FileGeneratingJob("out/a", lambda of: None).cluster("bigmem")
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ResourceError)
    assert str(job.exception) == ("out/a: cluster profile 'bigmem' is not in the cluster config (profiles: "
                                  "gpu). Define [profiles.bigmem] in ppg-cluster.toml.")


def where_i_ran(of):
    from distributed import get_worker

    Path(of).write_text(f"{get_worker().scheduler.address} {os.getpid()}")


def test_jobs_go_to_a_cluster_made_for_their_settings(ppg_dir):
    """Two settings, two local jobqueue clusters, created as their jobs were submitted."""
    Path("ppg-cluster.toml").write_text(CONFIG.replace("cores = 8", "cores = 2").replace('"32GB"', '"1GB"'))
    rc = ppg.JobqueueCoordinator("local", max_jobs=1)
    ppg.new_pipegraph(resource_coordinator=rc, quiet=True, dump_graph=False)
    for i in range(2):
        ppg.FileGeneratingJob(f"out/plain{i}", where_i_ran)
        ppg.FileGeneratingJob(f"out/gpu{i}", where_i_ran).cluster("gpu")
    ppg.run_pipegraph()
    created = dict((repr(settings), address) for settings, address in rc.created)
    assert len(created) == 2
    gpu_address = created[repr({"queue": "gpu", "walltime": "12:00:00"})]
    plain_address = created[repr({})]
    for i in range(2):
        assert read(f"out/gpu{i}").split()[0] == gpu_address
        assert read(f"out/plain{i}").split()[0] == plain_address
    assert rc.clusters == {}  # closed after the run


def test_settings_are_ignored_when_jobs_run_locally(ppg_dir):
    ppg.new_pipegraph(quiet=True, dump_graph=False)
    job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("ran here") and None)
    job.cluster("no such profile", queue="bigmem", extra=["--gres=gpu:1"])
    ppg.run_pipegraph()
    assert read("out/a") == "ran here"


def test_bad_settings_are_refused_at_the_call(ppg_dir):
    ppg.new_pipegraph(quiet=True)
    job = ppg.FileGeneratingJob("out/a", lambda of: None)
    with pytest.raises(ValueError, match=r"out/a: cluster\(extra=...\) takes a list of strings"):
        job.cluster(extra="--gres=gpu:1")
    with pytest.raises(ValueError, match=r"out/a: cluster\(walltime=...\) takes a string or number"):
        job.cluster(walltime=["1:00:00"])


def test_the_profile_script_in_the_docs_is_what_is_rendered(ppg_dir):
    docs = (Path(__file__).resolve().parent.parent / "docs/cluster.md").read_text()
    section = docs.split("## Per-job cluster settings")[1].split("## Any batch system")[0]
    Path("ppg-cluster.toml").write_text(section.split("```toml\n")[1].split("```")[0])
    rc = ppg.JobqueueCoordinator()
    ppg.new_pipegraph(resource_coordinator=rc, quiet=True)
    assemble = ppg.FileGeneratingJob("out/assembly.fa", lambda of: None)
    assemble.cluster("bigmem", extra=["--constraint=avx512"])
    assert directives(rc.job_script(assemble), "#SBATCH") == directives(section, "#SBATCH")


def test_a_dask_jobqueue_config_section_serves_as_a_profile(ppg_dir):
    """`job.cluster(config_name=...)` picks a section of dask-jobqueue's own config."""
    import dask

    section = {**dask.config.get("jobqueue.slurm"), "cores": 16, "memory": "64GB", "queue": "bigmem"}
    with dask.config.set({"jobqueue.slurm-bigmem": section}):
        rc = ppg.JobqueueCoordinator("slurm")
        ppg.new_pipegraph(resource_coordinator=rc, quiet=True)
        job = ppg.FileGeneratingJob("out/a", lambda of: None).cluster(config_name="slurm-bigmem")
        script = rc.job_script(job)
    assert "#SBATCH -p bigmem" in script and "#SBATCH --cpus-per-task=16" in script
    assert "--nthreads 16" in script and "--resources cores=16" in script


def test_a_job_bigger_than_its_clusters_workers_fails_before_any_cluster_starts(ppg_dir):
    rc = coordinator("local")
    ppg.new_pipegraph(resource_coordinator=rc, quiet=True)
    job = ppg.FileGeneratingJob("out/x", lambda of: None).cluster(queue="gpu")
    job.cores_needed = 16
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert str(job.exception) == (
        "out/x needs 16 cores, a worker of its cluster ({'queue': 'gpu'}) has 8. Lower cores_needed or "
        "give its cluster more cores (job.cluster(cores=...)).")
    assert rc.created == []
