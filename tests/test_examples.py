"""The example pipelines in examples/ run, rerun nothing, and react to edits."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(folder: Path, env=None) -> str:
    proc = subprocess.run([sys.executable, str(folder / "pipeline.py")], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("out", "logs", "cache", ".pypipegraph*"))
    return target


def test_quickstart_example(tmp_path):
    folder = copy_example("quickstart", tmp_path)
    first = run_example(folder)
    assert "9 job(s) ran" in first
    assert "liver_1\t" in (folder / "out/report.tsv").read_text()
    assert "0 job(s) ran" in run_example(folder)
    samples = folder / "input/samples.tsv"
    samples.write_text(samples.read_text().replace("brain_2\tTTGACC", "brain_2\tTTTACC"))
    third = run_example(folder)
    # four .seq jobs rerun (input changed), one profile (its sequence changed), the report
    assert "6 job(s) ran" in third
    log = (folder / "logs/ppg_run.txt").read_text()
    assert "out/brain_2.kmers: runs because input out/brain_2.seq changed" in log
    assert "out/liver_1.seq: output unchanged" in log


def test_expression_example(tmp_path):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    folder = copy_example("expression", tmp_path)
    run_example(folder)
    out = folder / "out"
    assert (out / "library_sizes.png").read_bytes().startswith(b"\x89PNG")
    assert len(list((out / "samples").iterdir())) == 6
    assert not (out / "cpm.tsv.tmp").exists()  # the temp file is gone after use
    assert "1 job(s) ran" in run_example(folder)  # only the generator
    counts = folder / "input/counts.tsv"
    header, *rows = counts.read_text().splitlines()
    counts.write_text("\n".join([header.replace("treated_3", "treated_3\tnew_sample")]
                                + [row + "\t100" for row in rows]) + "\n")
    run_example(folder)
    assert (out / "samples/new_sample.txt").exists()
    assert not (out / "cpm.tsv.tmp").exists()


def test_tumor_normal_example(tmp_path):
    folder = copy_example("tumor_normal", tmp_path)
    first = run_example(folder)
    assert "9 job(s) ran" in first  # 8 classify calls and analyze_tumors
    assert "tumor\tp1_tumor\t" in first and "p3_tumor" not in first
    assert "normal-looking samples: 5" in first
    assert "0 job(s) ran" in run_example(folder)
    reads = folder / "input/p3_normal.reads"
    reads.write_text(reads.read_text() + "GATTACA\n")  # still normal: early cutoff
    assert "1 job(s) ran" in run_example(folder)
    reads.write_text("GATTACAAC\n" * 50)  # now it looks like a tumor
    third = run_example(folder)
    assert "2 job(s) ran" in third and "tumor\tp3_normal\tmotif in 100.0% of reads" in third
