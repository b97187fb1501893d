"""Where jobs' code runs. Every executor offers the same protocol to the scheduler:

    start(job_index, min_generation) -> handle or None (None: no worker free now)
    wait(timeout, extra)             -> ([(handle, job_index, Result), ...], readable extras)
    kill(handle)                     the job shows up in wait() as killed/died
    running()                        handles of running jobs (.job_index, .started, .pid)
    busy                             truthy while jobs run
    bump_generation()                the master's memory changed: later jobs need new workers
    shutdown(kill=False)

An executor knows job indices and the job objects of the list it was given (their
`job_id` and `run_in_worker()`), never the graph, job classes, the rebuilder or the
store. Backends: `local` (forked workers), `dask` (tasks on a cluster, fed by the
master's declared `Shipment`), `master` (loaders, run synchronously in the master).
The worker-side runner and the Result encoding are in `worker`.
"""
