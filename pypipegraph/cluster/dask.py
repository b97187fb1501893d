"""Running on a Dask cluster: the coordinator that plans against the cluster's workers.

Invariant: every task asks Dask for the cores (and memory) its job needs, as worker
resources, so a job only lands on a worker with that much free; Dask's scheduler
enforces it across every pipeline that shares the cluster. A job that no worker could
ever hold, or a cluster whose workers declare no "cores" resource, is an error
before any job runs. The master keeps planning and the store; it still runs loaders
itself (as with local workers), and each worker process runs them again once.

    >>> rc = DaskCoordinator("tcp://10.0.0.5:8786")      # doctest: +SKIP
    >>> ppg.new_pipegraph(resource_coordinator=rc)       # doctest: +SKIP
"""

from __future__ import annotations

import math
import os

from ..resources import CoreBudget, ResourceError
from .shipment import Shipment

ENV_VARIABLE = "PYPIPEGRAPH_DASK_SCHEDULER"
IN_FLIGHT = 4  # cores' worth of tasks submitted per core of the cluster: workers never wait for the master


def from_environment(interactive: bool | None):
    """A DaskCoordinator when $PYPIPEGRAPH_DASK_SCHEDULER names a scheduler, else None."""
    address = os.environ.get(ENV_VARIABLE, "").strip()
    if not address:
        return None
    return DaskCoordinator(address, interactive=interactive if interactive is not None else True)


class DaskCoordinator:
    """Jobs run on the workers of a Dask cluster (a `distributed.Client` or a scheduler address).

    Workers must declare a "cores" resource (`dask worker --resources cores=8`,
    `LocalCluster(resources={"cores": 8})`); a "memory" resource (bytes) is used when
    declared. `wait_for_workers` seconds are given to the first worker to connect; the
    run stops (ClusterLost) after `lost_after` seconds without the scheduler.
    """

    def __init__(self, client_or_address, interactive: bool = True, wait_for_workers: float = 60.0,
                 lost_after: float = 10.0):
        try:
            import distributed
        except ImportError as exc:
            raise ImportError(
                "DaskCoordinator needs the 'distributed' package: pip install 'pypipegraph[dask]'"
            ) from exc
        if isinstance(client_or_address, distributed.Client):
            self._client, self.address = client_or_address, client_or_address.scheduler.address
            self._owned = False
        elif isinstance(client_or_address, str) and client_or_address:
            self._client, self.address = None, client_or_address
            self._owned = True
        else:
            raise TypeError(
                f"DaskCoordinator takes a distributed.Client or a scheduler address such as "
                f"'tcp://host:8786', got {client_or_address!r}"
            )
        self.interactive = interactive
        self.wait_for_workers = wait_for_workers
        self.lost_after = lost_after

    @property
    def client(self):
        """The Dask client (connected on first use when an address was given)."""
        if self._client is None:
            import distributed

            try:
                self._client = distributed.Client(self.address, timeout=f"{self.wait_for_workers}s",
                                                  set_as_default=False)
            except OSError as exc:
                raise ResourceError(
                    f"Could not reach the Dask scheduler at {self.address} ({exc}). Start it (dask "
                    f"scheduler) or fix the address (${ENV_VARIABLE})."
                ) from exc
        return self._client

    def budget(self) -> DaskBudget:
        """The cluster's cores now; ResourceError when no worker declares "cores"."""
        client = self.client
        try:
            client.wait_for_workers(1, timeout=self.wait_for_workers)
        except TimeoutError as exc:
            raise ResourceError(
                f"No Dask worker joined the scheduler at {self.address} within "
                f"{self.wait_for_workers} s. Start workers (or scale the cluster) first."
            ) from exc
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        declared = [w for w in workers if w.get("resources", {}).get("cores")]
        if not declared:
            raise ResourceError(
                f"The Dask workers at {self.address} declare no 'cores' resource, so pypipegraph cannot "
                "ask for a job's cores. Start them with `dask worker --resources cores=N` (N = the "
                "threads per worker), LocalCluster(resources={'cores': N}) or, with dask-jobqueue, "
                "worker_extra_args=['--resources', 'cores=N']."
            )
        return DaskBudget(declared)

    def executor(self, jobs: list, budget: DaskBudget):
        """Tasks on the cluster; a client this coordinator opened is closed after the run."""
        from ..executors.dask import DaskExecutor  # lazy: needs distributed, an optional dependency

        shipment = Shipment(jobs[0]._graph if jobs else None, jobs, self)
        client = self.client
        return DaskExecutor(jobs, lambda job: client, budget.request, shipment.dump, shipment.loaders_of,
                            lost_after=self.lost_after,
                            on_shutdown=self._close_own_client if self._owned else None)

    def _close_own_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing a client whose scheduler vanished
                pass


class ClusterBudget(CoreBudget):
    """Cores of a cluster's workers: a job takes `cores_for(job)` (what it asks of one worker)
    from the cores kept in flight; the cluster places it on a worker with them free."""

    def cores_for(self, job) -> int:
        raise NotImplementedError

    def try_acquire(self, job) -> bool:
        cores = self.cores_for(job)
        if cores > self.free:
            return False
        self.free -= cores
        self._held[job] = (cores, False)
        return True


class DaskBudget(ClusterBudget):
    """Cores' worth of tasks in flight (IN_FLIGHT x the cluster's); a job must fit on the
    largest worker. Dask starts a task only when a worker has its cores free."""

    def __init__(self, workers: list):
        cores = [int(w["resources"]["cores"]) for w in workers]
        largest = max(workers, key=lambda w: w["resources"]["cores"])
        super().__init__(sum(cores) * IN_FLIGHT, sum(int(w.get("memory_limit") or 0) for w in workers))
        self.worker_cores = int(largest["resources"]["cores"])
        self.parallelism = sum(cores)  # `total` counts the tasks kept in flight, not cores
        self.worker_memory = int(largest["resources"].get("memory") or largest.get("memory_limit") or 0)
        self.memory_resource = all("memory" in w["resources"] for w in workers)

    def cores_for(self, job) -> int:
        """Cores the job asks of one worker: -1 = a whole (the largest) worker, -2 = 1 core."""
        wanted = job.cores_needed
        cores = self.worker_cores if wanted == -1 else (1 if wanted == -2 else wanted)
        memory = job.memory_needed
        if memory > 0 and self.worker_memory:
            if memory > self.worker_memory:
                raise ResourceError(
                    f"{job.job_id} needs {memory} bytes of memory, the largest Dask worker has "
                    f"{self.worker_memory}. Lower memory_needed or start bigger workers."
                )
            if not self.memory_resource:  # memory is bought with cores, as on one machine
                cores = max(cores, math.ceil(memory / (self.worker_memory / self.worker_cores)))
        if cores > self.worker_cores:
            raise ResourceError(
                f"{job.job_id} needs {cores} cores, the largest Dask worker has {self.worker_cores}. "
                "Lower cores_needed (-1 means 'a whole worker') or start workers with more cores."
            )
        return cores

    def request(self, job) -> dict:
        """The Dask resources of `job`'s task."""
        wanted = {"cores": self.held(job) or self.cores_for(job)}
        if self.memory_resource and job.memory_needed > 0:
            wanted["memory"] = job.memory_needed
        return wanted
