"""Running on Slurm, PBS, SGE or LSF through dask-jobqueue, with cluster settings per job.

Invariant: jobs with the same effective cluster settings (`job.cluster(...)`, a profile
from the config file) run on the workers of one dask-jobqueue cluster made for exactly
those settings, and never elsewhere. A cluster is created when the first job of its
settings is submitted and scales itself with its queue (`adapt(0, max_jobs)`); all are
closed after the run. Each worker process declares its threads as the "cores" resource,
so a job runs only where its cores are free, as with DaskCoordinator.

    >>> rc = JobqueueCoordinator("slurm", cores=8, memory="32GB", account="mylab")  # doctest: +SKIP
    >>> ppg.new_pipegraph(resource_coordinator=rc)                                  # doctest: +SKIP
    >>> big = ppg.FileGeneratingJob(...).cluster(queue="bigmem", walltime="24:00:00")
"""

from __future__ import annotations

import inspect

from ..resources import ResourceError
from .dask import IN_FLIGHT, ClusterBudget
from .profiles import load_config, settings_of
from .shipment import Shipment

BACKENDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
            "local": "local.LocalCluster"}


def cluster_class(backend):
    """The dask-jobqueue cluster class of a backend name ("slurm", ...) or the class itself."""
    if not isinstance(backend, str):
        return backend
    try:
        import dask_jobqueue
        import dask_jobqueue.local  # noqa: F401 - the "local" backend
    except ImportError as exc:
        raise ImportError("JobqueueCoordinator needs dask-jobqueue: pip install 'pypipegraph[hpc]'") from exc
    if backend not in BACKENDS:
        raise ValueError(f"JobqueueCoordinator: unknown backend {backend!r}; use one of "
                         f"{', '.join(BACKENDS)} or a dask_jobqueue cluster class")
    obj = dask_jobqueue
    for part in BACKENDS[backend].split("."):
        obj = getattr(obj, part)
    return obj


class JobqueueCoordinator:
    """One dask-jobqueue cluster per distinct cluster setting of the pipeline's jobs.

    `backend`: "slurm", "pbs", "sge", "lsf", "local" (dask-jobqueue's LocalCluster, for
    trying things out) or a cluster class. `cluster_kwargs` (and the config file's
    [cluster] table; the arguments win) go to every cluster; what dask-jobqueue's own
    config (`jobqueue.slurm.cores`, ...) sets need not be repeated. Each cluster keeps
    at most `max_jobs` worker jobs."""

    def __init__(self, backend: str | type | None = None, *, max_jobs: int = 4, config: str | None = None,
                 interactive: bool = True, lost_after: float = 10.0, **cluster_kwargs):
        loaded = load_config(config)
        base = {**loaded["cluster"], **cluster_kwargs}
        configured = base.pop("backend", None)
        self.backend = backend or configured or "slurm"
        self.cls = cluster_class(self.backend)
        self.max_jobs = int(base.pop("max_jobs", max_jobs))
        self.base = base
        self.profiles = loaded["profiles"]
        self.interactive = interactive
        self.lost_after = lost_after
        self.clusters: dict = {}  # settings key -> (cluster, client), while the run lasts
        self.created: list = []  # (settings, scheduler address) of each cluster made, in order

    # --- what a setting becomes ----------------------------------------------------

    def cluster_kwargs(self, settings: dict) -> dict:
        """The keyword arguments of the cluster for `settings` (a job's effective settings)."""
        kwargs = {**self.base, **{key: value for key, value in settings.items() if key != "extra"}}
        if settings.get("extra"):
            kwargs["job_extra_directives"] = [*kwargs.get("job_extra_directives", ()), *settings["extra"]]
        if "account" in kwargs and "account" not in _parameters(self.cls):
            kwargs["project"] = kwargs.pop("account")  # SGE (and the local backend) call it project
        cores = kwargs.get("cores") or self._config("cores", kwargs)
        if not cores:
            raise ResourceError(f"{self.cls.__name__} needs the cores of a worker job: give cores=... "
                                "(or set jobqueue.<backend>.cores in dask's config)")
        kwargs["cores"] = cores
        kwargs.setdefault("processes", self._config("processes", kwargs) or 1)
        threads = int(cores) // int(kwargs["processes"])
        extra_args = list(kwargs.get("worker_extra_args") or self._config("worker-extra-args", kwargs) or ())
        if "--resources" not in extra_args:
            extra_args += ["--resources", f"cores={threads}"]
        kwargs["worker_extra_args"] = extra_args
        kwargs.setdefault("scheduler_options", {"dashboard_address": ":0"})
        return kwargs

    def threads(self, settings: dict) -> int:
        """Cores (threads) of one worker process of the cluster for `settings`."""
        kwargs = self.cluster_kwargs(settings)
        return int(kwargs["cores"]) // int(kwargs["processes"])

    def job_script(self, job_or_settings=None) -> str:
        """The batch script dask-jobqueue submits for a job (or settings; None: the
        defaults). Nothing is submitted."""
        settings = job_or_settings if isinstance(job_or_settings, dict) or job_or_settings is None \
            else settings_of(job_or_settings, self.profiles)
        with self.cls(**self.cluster_kwargs(settings or {})) as cluster:
            return cluster.job_script()

    def _config(self, name: str, kwargs: dict):
        """dask-jobqueue's configured value (of the section `config_name` names, if any)."""
        import dask

        config_name = kwargs.get("config_name") or getattr(self.cls, "config_name", None)
        return dask.config.get(f"jobqueue.{config_name}.{name}", None) if config_name else None

    # --- the run -----------------------------------------------------------------------

    def client_for(self, job):
        """The client of the cluster for `job`'s settings (created, adaptive, on first use)."""
        settings = settings_of(job, self.profiles)
        key = repr(sorted(settings.items()))
        if key not in self.clusters:
            import distributed

            cluster = self.cls(**self.cluster_kwargs(settings))
            cluster.adapt(minimum_jobs=0, maximum_jobs=self.max_jobs)
            self.clusters[key] = (cluster, distributed.Client(cluster, set_as_default=False))
            self.created.append((settings, cluster.scheduler_address))
        return self.clusters[key][1]

    def budget(self) -> JobqueueBudget:
        return JobqueueBudget(self)

    def executor(self, jobs: list, budget: JobqueueBudget):
        from ..executors.dask import DaskExecutor  # lazy: needs distributed, an optional dependency

        shipment = Shipment(jobs[0]._graph if jobs else None, jobs, self)
        return DaskExecutor(jobs, self.client_for, budget.request, shipment.dump, shipment.loaders_of,
                            lost_after=self.lost_after, on_shutdown=self.close)

    def close(self) -> None:
        """Close every cluster of the run (their worker jobs end)."""
        clusters, self.clusters = self.clusters, {}
        for cluster, client in clusters.values():
            for thing in (client, cluster):
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - a cluster that is already gone
                    pass


class JobqueueBudget(ClusterBudget):
    """Cores' worth of jobs in flight (IN_FLIGHT x max_jobs x a default worker's cores);
    a job must fit on one worker process of its own cluster."""

    def __init__(self, coordinator: JobqueueCoordinator):
        self.coordinator = coordinator
        self._threads: dict = {}  # settings key -> threads per worker process
        default = coordinator.threads({})
        super().__init__(default * coordinator.max_jobs * IN_FLIGHT, 0)
        self.parallelism = default * coordinator.max_jobs

    def cores_for(self, job) -> int:
        settings = settings_of(job, self.coordinator.profiles)
        key = repr(sorted(settings.items()))
        if key not in self._threads:
            self._threads[key] = self.coordinator.threads(settings)
        threads = self._threads[key]
        wanted = job.cores_needed
        cores = threads if wanted == -1 else (1 if wanted == -2 else wanted)
        if cores > threads:
            raise ResourceError(f"{job.job_id} needs {cores} cores, a worker of its cluster "
                                f"({settings or 'default settings'}) has {threads}. Lower cores_needed "
                                "or give its cluster more cores (job.cluster(cores=...)).")
        return cores

    def request(self, job) -> dict:
        return {"cores": self.held(job) or self.cores_for(job)}


def _parameters(cls) -> set:
    """Keyword arguments the cluster's job class takes (its account / project naming)."""
    job_cls = getattr(cls, "job_cls", None)
    return set(inspect.signature(job_cls.__init__).parameters) if job_cls is not None else set()
