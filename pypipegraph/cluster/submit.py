"""Running each job through a submit command (`sbatch`, `qsub`, a site's wrapper).

Invariant: the master plans, keeps the store and runs loaders, as with local workers;
every output job becomes a script handed to the submit command (executors.submit), with
at most `cores` cores' worth of jobs submitted at once. Placeholders in the command are
filled per job: {script}, {job_id}, {name} (the job id made safe for file and job
names), {cores}, {memory_mb}, the job's cluster settings ({queue}, {walltime},
{account}, and the options of `job.cluster(...)`, over `defaults` and the config file's
[cluster] table), and an argument "{extra}" that stands for the job's extra arguments.

    >>> rc = SubmitCoordinator("sbatch --wait -c {cores} -J {name} {extra} {script}")  # doctest: +SKIP
    >>> ppg.new_pipegraph(resource_coordinator=rc)                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
import shlex
import sys

from ..executors.submit import SubmitExecutor
from ..resources import CoreBudget
from .profiles import load_config, settings_of
from .shipment import Shipment


class SubmitCoordinator:
    """Jobs run as scripts given to `submit` (a command line or an argument list holding
    "{script}"); `cancel` (e.g. "scancel {cluster_id}") stops one; `cores` is how many
    cores' worth of jobs may be submitted at once, `max_jobs` how many jobs; `directives`
    are lines for the top of each script ("#SBATCH --time={walltime}"), filled likewise."""

    def __init__(self, submit: str | list, cores: int = 16, max_jobs: int | None = None,
                 cancel: str | list | None = None, defaults: dict | None = None,
                 config: str | None = None, interactive: bool = True, python: str = sys.executable,
                 directives: list | None = None):
        self.submit = _command(submit, "submit")
        if not any("{script}" in item for item in self.submit):
            raise ValueError(f"SubmitCoordinator: the submit command must contain {{script}} (where the "
                             f"job's script goes); got {self.submit!r}")
        self.cancel = _command(cancel, "cancel") if cancel is not None else None
        if not isinstance(cores, int) or cores < 1:
            raise ValueError(f"SubmitCoordinator: cores must be a positive int, got {cores!r}")
        self.cores = cores
        self.max_jobs = max_jobs or cores
        config = load_config(config)
        self.defaults = {**config["cluster"], **(defaults or {})}
        self.profiles = config["profiles"]
        self.interactive = interactive
        self.python = python
        if directives is not None and (isinstance(directives, str) or not all(
                isinstance(line, str) and line.startswith("#") for line in directives)):
            raise ValueError("SubmitCoordinator: directives are lines for the top of each job script, "
                             f"each starting with '#' (e.g. '#SBATCH --time={{walltime}}'); got {directives!r}")
        self.directives = list(directives or ())

    def budget(self) -> CoreBudget:
        return CoreBudget(self.cores, math.inf)  # memory is the cluster's business: no conversion

    def executor(self, jobs: list, budget: CoreBudget):
        shipment = Shipment(jobs[0]._graph if jobs else None, jobs, self)

        def values_of(job) -> dict:
            memory = job.memory_needed
            return {**self.defaults, "job_id": job.job_id, "name": _safe(job.job_id),
                    "cores": budget.held(job) or max(1, job.cores_needed),
                    "memory_mb": math.ceil(memory / 2**20) if memory > 0 else "",
                    **settings_of(job, self.profiles)}

        return SubmitExecutor(jobs, self.submit, shipment.dump, shipment.loaders_of, values_of,
                              self.max_jobs, cancel=self.cancel, python=self.python,
                              directives=self.directives)


def _command(command, what: str) -> list:
    if isinstance(command, str):
        return shlex.split(command)
    if isinstance(command, (list, tuple)) and command and all(isinstance(item, str) for item in command):
        return list(command)
    raise TypeError(f"SubmitCoordinator: the {what} command is a command line or a list of strings; "
                    f"got {command!r}")


def _safe(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", job_id).strip("_")[:64] or "job"
