"""Classes and functions defined in the script travel by value to executors that start a
fresh Python (a real Dask LocalCluster, the submit executor with a stand-in sbatch), so
the Arvados draft's CrunchModule pattern (a work method calling work methods, results
that are instances of the script's classes, read by another work method on a worker)
runs there as it runs locally. The script runs as a real subprocess: its `__main__` is
the script, the workers' is not."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_console import child_env

from pypipegraph.hashing import hash_value
from pypipegraph.plumbing import script_functions

SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import pypipegraph as ppg
    from pypipegraph.crunch import AutoDispatcher, CrunchModule, WorkMethod

    class Tiles:
        def __init__(self, human, text):
            self.human, self.text = human, text

    class Example000(CrunchModule):
        def __init__(self, refpath="/ref"):
            self.refpath = refpath

        def run(self, lines):
            return self.combine(self.parse_human_map(lines))

        @WorkMethod()
        def parse_human_map(self, lines):
            return [self.run_ruler(*line.split(",")) for line in lines]

        @WorkMethod()
        def run_ruler(self, fastj_id, human_id):
            with open("ruler_runs", "a") as fh:
                fh.write(human_id + " " + str(os.getpid()) + "\\n")
            return Tiles(human_id, fastj_id.upper())

        @WorkMethod()
        def combine(self, tiles):
            return {tile.human: tile.text for tile in tiles}

    if __name__ == "__main__":
        if sys.argv[1] == "dask":
            from distributed import Client, LocalCluster
            cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True, resources={"cores": 2},
                                   dashboard_address=":0")
            rc = ppg.DaskCoordinator(Client(cluster))
        else:
            rc = ppg.SubmitCoordinator("./mini_sbatch {script}", cores=2)
        result = AutoDispatcher(resource_coordinator=rc, quiet=True).run_work(
            Example000, lines=["fj1,hu1", "fj2,hu2"])
        Path("result").write_text(repr(sorted(result.items())))
""")

MINI_SBATCH = """#!/bin/sh
for script; do :; done
(sh "$script") > /dev/null 2>&1 &
echo "Submitted batch job $$"
"""


def run_script(executor: str) -> None:
    done = subprocess.run([sys.executable, "pipeline.py", executor], env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("executor", ["dask", "submit"])
def test_a_work_method_calling_work_methods_runs_on_fresh_pythons(tmp_path, monkeypatch, executor):
    monkeypatch.chdir(tmp_path)
    Path("pipeline.py").write_text(SCRIPT)
    Path("mini_sbatch").write_text(MINI_SBATCH)
    Path("mini_sbatch").chmod(0o755)
    run_script(executor)
    assert Path("result").read_text() == "[('hu1', 'FJ1'), ('hu2', 'FJ2')]"
    runs = Path("ruler_runs").read_text().split()
    assert sorted(runs[0::2]) == ["hu1", "hu2"]
    assert str(os.getpid()) not in runs[1::2]  # ran in workers, not here
    run_script(executor)  # unchanged: the same calls (ids made in a worker), nothing recomputed
    assert Path("result").read_text() == "[('hu1', 'FJ1'), ('hu2', 'FJ2')]"
    assert len(Path("ruler_runs").read_text().splitlines()) == 2


class Probe:
    def __init__(self, k):
        self.k = k


def test_a_value_holding_a_script_class_fingerprints_alike_where_main_is_not_the_script(monkeypatch):
    """The fingerprint (and the pickle a result travels in) of a value holding a class of the
    script is the same in the script's process and in a worker where `__main__` is another
    module and the class arrived by value."""
    main = sys.modules["__main__"]
    monkeypatch.setattr(Probe, "__module__", "__main__")
    monkeypatch.setattr(main, "Probe", Probe, raising=False)
    value = {"probes": [Probe(1), Probe(2)], "cls": Probe}
    in_script = hash_value(value), pickle.dumps(value, protocol=5)
    monkeypatch.delattr(main, "Probe")
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(value)
    assert (hash_value(value), script_functions.dumps(value, protocol=5)) == in_script
    monkeypatch.setattr(script_functions, "_script_names", {"Probe": Probe})
    back = script_functions.loads(in_script[1])
    assert back["cls"] is Probe and [probe.k for probe in back["probes"]] == [1, 2]
