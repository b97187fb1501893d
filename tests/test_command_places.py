"""Command jobs, as a DryPipe user knows tasks: places in the environment, values exported
by the command, a set of files as one input, multi-step jobs that restart at the failed
step, and a replay script that cannot be tricked into running other commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_command_jobs import child_env, failure

import pypipegraph as ppg

from conftest import append, read, runs

# --- places ------------------------------------------------------------------------------

PRINT_PLACES = ('for v in PPG_OUTPUT_DIR PPG_SCRATCH_DIR PPG_PROJECT_DIR PPG_CODE_DIR; do '
                'eval echo $v=\\$$v; done > "$PPG_OUTPUT_DIR/places.txt"; '
                'touch "$PPG_SCRATCH_DIR/tmp.bin" && ls "$PPG_SCRATCH_DIR" > out/sub/scratch.txt')


def test_a_command_gets_its_task_places_in_the_environment(ppg_dir):
    code = ppg_dir / "code"
    code.mkdir()
    (code / "pipeline.py").write_text(
        "import pypipegraph as ppg\nppg.new_pipegraph(quiet=True, interactive=False)\n"
        f"ppg.CommandJob(['out/sub/places.txt', 'out/sub/scratch.txt'], {PRINT_PLACES!r})\n"
        "ppg.run_pipegraph()\n")
    subprocess.run([sys.executable, "code/pipeline.py"], env=child_env(), check=True, stdin=subprocess.DEVNULL)
    places = dict(line.split("=", 1) for line in read("out/sub/places.txt").splitlines())
    assert places["PPG_OUTPUT_DIR"] == str(ppg_dir / "out" / "sub")
    assert places["PPG_PROJECT_DIR"] == str(ppg_dir)
    assert places["PPG_CODE_DIR"] == str(code)
    scratch = Path(places["PPG_SCRATCH_DIR"])
    assert read("out/sub/scratch.txt") == "tmp.bin\n"  # it existed while the command ran
    assert scratch.is_relative_to(ppg_dir / "cache") and not scratch.exists()  # removed after success


def test_the_scratch_directory_is_kept_after_a_failure(new_pipegraph):
    job = ppg.CommandJob("out/x", 'echo partial > "$PPG_SCRATCH_DIR/state"; exit 3')
    failure("out/x")
    assert read(Path(job.scratch_dir()) / "state") == "partial\n"


# --- values --------------------------------------------------------------------------------


def test_values_written_by_a_command_reach_downstream_jobs_and_survive_a_rerun(new_pipegraph):
    def define():
        align = ppg.CommandJob("out/aligned.bam", 'echo bam > out/aligned.bam; echo x >> out/align.runs; '
                               'echo "reads=1234" >> "$PPG_OUTPUTS"; echo "sample=p1 tumor" >> "$PPG_OUTPUTS"',
                               values=True)
        def write_report(of):
            Path(of).write_text(repr(sorted(align.values().items())))

        ppg.FileGeneratingJob("out/report.txt", write_report).depends_on(align)
        return align

    align = define()
    ppg.run_pipegraph()
    expected = [("reads", "1234"), ("sample", "p1 tumor")]
    assert read("out/report.txt") == repr(expected)
    new_pipegraph.new_pipegraph()
    align = define()
    ppg.run_pipegraph()
    assert not align.was_run and len(read("out/align.runs").split()) == 1
    assert sorted(align.values().items()) == expected  # read from the kept values file
    assert align.filenames == ["out/aligned.bam", "out/aligned.bam.values"]


def test_a_malformed_value_line_fails_the_job(new_pipegraph):
    ppg.CommandJob("out/a", 'echo a > out/a; echo "no equals sign" >> "$PPG_OUTPUTS"', values=True)
    exc = failure("out/a")
    assert "line 1 of out/a.values ($PPG_OUTPUTS)" in str(exc)


def test_values_of_a_job_without_them_is_an_error(new_pipegraph):
    job = ppg.CommandJob("out/a", "echo a > out/a")
    with pytest.raises(ValueError, match="values=True"):
        job.values()


# --- a set of files -------------------------------------------------------------------------


def test_a_job_on_a_set_of_files_reruns_when_the_set_or_a_member_changes(new_pipegraph):
    def define(parts):
        new_pipegraph.new_pipegraph()
        fileset = ppg.FileSetJob("out/parts/*.txt")

        def merge(of):
            append("out/merge.runs", "x")
            Path(of).write_text("".join(read(name) for name in fileset.files()))

        ppg.FileGeneratingJob("out/merged.txt", merge).depends_on(fileset)
        for name, text in parts.items():  # made after the set: found just before the run
            def write(of, text=text):
                Path(of).write_text(text)

            ppg.FileGeneratingJob(f"out/parts/{name}.txt", write)
        ppg.run_pipegraph()
        return read("out/merged.txt")

    os.makedirs("out/parts")
    assert define({"a": "A", "b": "B"}) == "AB" and runs("out/merge.runs") == 1
    assert define({"a": "A", "b": "B"}) == "AB" and runs("out/merge.runs") == 1  # nothing changed
    assert define({"a": "A", "b": "B2"}) == "AB2" and runs("out/merge.runs") == 2  # a member changed
    assert define({"a": "A", "b": "B2", "c": "C"}) == "AB2C" and runs("out/merge.runs") == 3  # one more
    Path("out/parts/c.txt").unlink()
    assert define({"a": "A", "b": "B2"}) == "AB2" and runs("out/merge.runs") == 4  # one less


# --- steps ------------------------------------------------------------------------------------


def three_steps(fail_at_step3: bool):
    return ppg.CommandJob(
        ["out/final.txt"],
        steps=[("echo 1 >> out/step1.runs; echo one > out/s1.txt", ["out/s1.txt"]),
               ("echo 2 >> out/step2.runs; cat out/s1.txt > out/s2.txt; echo two >> out/s2.txt",
                ["out/s2.txt"]),
               "echo 3 >> out/step3.runs; test ! -e fail || exit 7; cat out/s2.txt > out/final.txt"])


def step_runs():
    return [len(read(f"out/step{i}.runs").split()) if os.path.exists(f"out/step{i}.runs") else 0
            for i in (1, 2, 3)]


def test_a_rerun_after_a_failure_starts_at_the_failed_step(new_pipegraph):
    Path("fail").write_text("")
    three_steps(True)
    exc = failure("out/final.txt")
    assert "(step 3 of 3)" in str(exc) and exc.returncode == 7
    assert step_runs() == [1, 1, 1]
    Path("fail").unlink()
    new_pipegraph.new_pipegraph()
    job = three_steps(False)
    ppg.run_pipegraph()
    assert read("out/final.txt") == "one\ntwo\n"
    assert step_runs() == [1, 1, 2]
    assert "resuming at step 3 of 3" in job.stdout
    new_pipegraph.new_pipegraph()  # after a success: up to date, and a forced rerun starts at step 1
    three_steps(False)
    ppg.run_pipegraph()
    assert step_runs() == [1, 1, 2]
    os.unlink("out/final.txt")
    new_pipegraph.new_pipegraph()
    three_steps(False)
    ppg.run_pipegraph()
    assert step_runs() == [2, 2, 3]


def test_a_damaged_earlier_output_reruns_from_that_step(new_pipegraph):
    Path("fail").write_text("")
    three_steps(True)
    failure("out/final.txt")
    Path("out/s2.txt").write_text("tampered\n")
    Path("fail").unlink()
    new_pipegraph.new_pipegraph()
    three_steps(False)
    ppg.run_pipegraph()
    assert read("out/final.txt") == "one\ntwo\n"
    assert step_runs() == [1, 2, 2]


def test_steps_and_cmd_are_exclusive(new_pipegraph):
    with pytest.raises(TypeError, match="not both"):
        ppg.CommandJob("out/a", "true", steps=["true"])


# --- the replay script ----------------------------------------------------------------------


def test_the_replay_script_quotes_the_job_id_and_the_environment(new_pipegraph):
    name = "out/sample\ntouch INJ1\n.txt"
    job = ppg.CommandJob(name, ["sh", "-c", 'echo ok > "$1"', "sh", name],
                         env={"X; touch INJ2; Y": "v", "SAFE": "$(touch INJ3)"})
    ppg.run_pipegraph()
    script = Path(job.log_dir()) / "command"
    os.unlink(name)
    subprocess.run(["sh", str(script)], check=True, cwd=os.getcwd())
    assert read(name) == "ok\n"  # the replay did the job's work...
    assert not any(Path(f).exists() for f in ("INJ1", "INJ2", "INJ3"))  # ... and nothing else
