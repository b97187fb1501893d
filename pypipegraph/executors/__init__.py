"""Where jobs' code runs. Every executor offers the same protocol to the scheduler
(docs/executors.md is the guide to writing one):

    start(job_index, min_generation) -> handle or None (None: no room now, ask again later)
    wait(timeout, extra)             -> ([(handle, job_index, Result), ...], readable extras)
    kill(handle)                     the job shows up in wait() as killed/died
    running()                        handles of started jobs (.job_index, .started, .pid)
    busy                             truthy while jobs run (len() = jobs handed over)
    bump_generation()                the master's memory changed: later jobs need new workers
    shutdown(kill=False)

Optional: `forget_state(since_generation)`: the master deleted state it had from that
generation on (a job's cleanup ran); jobs started later must not see it (local: workers
forked since then are retired). Optional, for executors whose jobs may wait in a cluster's queue: a handle's `state`
("queued", "running", "done") and `host`, and `states() -> (running, queued)`; the
scheduler then counts queued jobs apart from running ones (progress()["queued"]).

An executor knows job indices and the job objects of the list it was given (their
`job_id` and `run_in_worker()`), never the graph, job classes, the rebuilder or the
store. Backends: `local` (forked workers), `dask` (tasks on a cluster, fed by the
master's declared `Shipment`), `submit` (a script per job, handed to a submit command),
`master` (loaders, run synchronously in the master). The worker-side runner and the
Result encoding are in `worker`.
"""
