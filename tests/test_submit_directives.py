"""What a job script says about a job without a memory request, and the replay script of
a command job run again by hand after the job succeeded."""

from __future__ import annotations

import subprocess
from pathlib import Path

from test_submit import calls, new_graph, sbatch, write_pid  # noqa: F401 - sbatch: a fixture

import pypipegraph as ppg


def scripts() -> dict[str, str]:
    """{job name: the script the stand-in sbatch was given} (its -J argument names the job;
    one job submitted at a time, so the stand-in numbers its calls in order)."""
    found = {}
    for n, line in enumerate(calls(), 1):
        name = line.split()[1]
        found[name] = Path(f"submitted-{n}.sh").read_text()
    return found


def test_a_memory_directive_is_left_out_or_defaulted_for_jobs_without_memory_needed(sbatch):  # noqa: F811 - the fixture
    command = [sbatch(), "-J", "{name}", "{script}"]
    directives = ["#SBATCH --mem={memory_mb}M", "#SBATCH --time={walltime}"]
    new_graph(command, cores=2, max_jobs=1, directives=directives, defaults={"walltime": "1:00:00"})
    ppg.FileGeneratingJob("out/plain.txt", write_pid)
    ppg.FileGeneratingJob("out/big.txt", write_pid).memory_needed = 3 * 2**30
    ppg.run_pipegraph()
    found = scripts()
    assert "--mem" not in found["out_plain.txt"]  # no memory asked: no line, never "--mem=M"
    assert "#SBATCH --time=1:00:00" in found["out_plain.txt"].splitlines()
    assert "#SBATCH --mem=3072M" in found["out_big.txt"].splitlines()
    assert Path("out/plain.txt").exists() and Path("out/big.txt").exists()


def test_the_memory_default_of_the_coordinator_fills_jobs_without_memory_needed(sbatch):  # noqa: F811 - the fixture
    command = [sbatch(), "-J", "{name}", "{script}"]
    new_graph(command, cores=2, max_jobs=1, directives=["#SBATCH --mem={memory_mb}M"], defaults={"memory_mb": 2000})
    ppg.FileGeneratingJob("out/plain.txt", write_pid)
    ppg.FileGeneratingJob("out/big.txt", write_pid).memory_needed = 2**30
    ppg.run_pipegraph()
    found = scripts()
    assert "#SBATCH --mem=2000M" in found["out_plain.txt"].splitlines()
    assert "#SBATCH --mem=1024M" in found["out_big.txt"].splitlines()  # its own request wins


def test_the_replay_script_recreates_the_scratch_directory(new_pipegraph):
    job = ppg.CommandJob("out/a.txt", 'echo "$PPG_JOB_ID" > "$PPG_SCRATCH_DIR/note" && '
                         'cp "$PPG_SCRATCH_DIR/note" out/a.txt')
    ppg.run_pipegraph()
    scratch = Path(job.scratch_dir())
    assert not scratch.exists()  # removed when the job succeeded
    Path("out/a.txt").unlink()
    replay = subprocess.run(["sh", "logs/jobs/out_a.txt/command"], capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    assert Path("out/a.txt").read_text() == "out/a.txt\n"
    assert (scratch / "note").read_text() == "out/a.txt\n"
