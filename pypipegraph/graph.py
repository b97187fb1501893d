"""The pipegraph: the set of jobs of one run, and its lifecycle.

Invariant: a graph runs at most once. Job ids and output files are unique within a
graph. Before anything runs, placeholders are resolved, implicit invariants added and
the graph checked for cycles (the cycle's jobs named in order); the store is opened
and checked. Only then do jobs run.

    >>> import pypipegraph as ppg                       # doctest: +SKIP
    >>> ppg.new_pipegraph(); ppg.FileGeneratingJob("a.txt", write_a); ppg.run_pipegraph()
"""

from __future__ import annotations

import gc
import logging
import os
import sys

from . import state
from .cluster.dask import from_environment
from .cluster.local import LocalSystem
from .errors import RunInterrupted, RunTerminated, RuntimeError
from .executors.master import InMasterExecutor
from .futures.result_cache import ResultCache
from .hashing import forget_global_values
from .jobs.generating import GenerationSession
from .legacy.graph import Graph197
from .legacy.store import adopt_legacy_status, legacy_status_file
from .listeners import keep_graph, standard_listeners
from .ordering import topological_order
from .plan import PlanComplete
from .plumbing.termination import Terminated, ending_on_signals
from .priorities import ReadyQueue
from .rebuilder import Rebuilder
from .resources import NamedResources, validate_capacity
from .scheduler import Scheduler
from .store import DEFAULT_PATH
from .store.writer import History
from .targets import select, wanted
from .targets import summary as targets_summary
from .usage import apply_memory_estimates
from .views.console import Console, Controls
from .views.control import ControlServer
from .views.logs import RunLog, attach_socket_handler, detach, file_handler, logger, socket_address
from .views.progress import Progress
from .views.report import report_wanted, write_report_if_wanted
from .views.summary import ending, error_message

DEFAULT_STORE = DEFAULT_PATH
invariant_status_filename_default = DEFAULT_STORE  # 0.197's name for the default store file
_FREEZE_EVERY = 10000  # jobs between gc.freeze() calls while a graph is built


class Pipegraph(Graph197):
    """A graph of jobs. Create with `ppg.new_pipegraph()`, run with `ppg.run_pipegraph()`."""

    def __init__(self, resource_coordinator=None, quiet: bool = False,
                 invariant_status_filename: str | None = None, dump_graph: bool = True,
                 interactive: bool | None = None, cache_folder: str = "cache",
                 log_file: str | None = None, log_level: int = logging.INFO,
                 log_socket: str | None = None, resources: dict | None = None,
                 critical_path: bool = True, report: bool | None = None,
                 result_cache=None, reuse_workers: bool = False):
        if resource_coordinator is None:
            resource_coordinator = from_environment(interactive)  # $PYPIPEGRAPH_DASK_SCHEDULER
        if resource_coordinator is None:
            resource_coordinator = LocalSystem(interactive=interactive if interactive is not None else True)
        self.rc = resource_coordinator
        self.quiet = quiet
        self.invariant_status_filename = invariant_status_filename or DEFAULT_STORE
        self.dump_graph = dump_graph
        self.interactive = interactive
        self.cache_folder = cache_folder
        self.log_file = log_file
        self.log_level = log_level
        self.log_socket = log_socket
        self.resources = validate_capacity(resources)  # named, counted resources jobs may need()
        self.critical_path = critical_path  # start long recorded chains first
        self.report = report  # write logs/ppg_report.html after the run (None: $PYPIPEGRAPH_REPORT)
        self.report_file: str | None = None  # the report the last run wrote
        # results of work function calls shared by content key (docs/futures.md)
        self.result_cache = result_cache if result_cache is None or isinstance(result_cache, ResultCache) \
            else ResultCache(result_cache)
        if not isinstance(reuse_workers, bool):
            raise ValueError(f"new_pipegraph(reuse_workers=...) takes True or False; got {reuse_workers!r}")
        self.reuse_workers = reuse_workers  # default for jobs: reuse worker processes, no fork per job
        if log_socket is not None:
            socket_address(log_socket)  # a malformed address fails here, not at run()
        self.jobs: dict = {}
        self.outputs: dict = {}
        self.edge_sites: dict = {}  # (upstream, downstream) -> (file, line) of the depends_on call
        self.has_run = False
        self.running = False
        self.targets: list[str] | None = None  # what run() was asked to make (targets.py)
        self.targets_line = ""
        self.failed_jobs: list = []
        self.job_creation_forbidden_by = None  # a loading job while it runs
        self.generation = None  # a GenerationSession while a generating job's callback runs
        self.listeners: list = []  # events.Listener objects that hear the run's events too
        self.command_log_dirs: dict = {}  # logs/jobs/<name> -> the CommandJob streaming there
        self.object_uniquifier: dict = {}  # class -> {name: True}, see util.assert_uniqueness_of_object
        self.stat_cache: dict = {}  # file name -> (os.stat result, when), see util.stat
        self._wired_finals: list = []  # FinalJobs connect_graph() made depend on the sinks
        self.store = None  # the open store while the graph runs
        self.dump_pid = None  # the child writing logs/ppg_graph.gml (dump_graph); os.waitpid it
        self.invariant_loading_issues: dict = {}  # job id -> why 0.197's stored value could not be read

    def __getstate__(self) -> dict:
        # shipped to Dask workers: the open store stays with the master
        state = dict(self.__dict__)
        state["store"] = None
        return state

    # --- building ------------------------------------------------------------

    def add_job(self, job) -> None:
        self.jobs[job.job_id] = job
        if len(self.jobs) % _FREEZE_EVERY == 0:
            gc.freeze()  # jobs live as long as the graph: spare the collector re-scanning them
        session = self.generation
        if session is not None:
            session.new_jobs.append(job)
            session.new_set.add(job)

    def claim_outputs(self, job) -> None:
        """Register the files `job` writes; ValueError when another job writes one."""
        outputs = self.outputs
        for name in job.filenames:
            other = outputs.get(name)
            if other is not None and other is not job:
                raise ValueError(
                    f"{job.job_id}: the output file {name} is already written by job "
                    f"{other.job_id}. Two jobs may not write the same file."
                )
        for name in job.filenames:
            outputs[name] = job

    # --- jobs created while running -----------------------------------------

    def start_generation(self, generator):
        """Record the jobs and injected edges `generator`'s callback creates (it runs in
        the master: jobs/generating.py)."""
        self.generation = GenerationSession(generator)
        return self.generation

    def stop_generation(self) -> None:
        self.generation = None

    # --- running -------------------------------------------------------------

    def run(self, report: bool | None = None, targets=None) -> None:
        """Run every out-of-date job; raise ppg.RuntimeError if any failed.

        With `report` (or new_pipegraph(report=True), or $PYPIPEGRAPH_REPORT=1) the HTML run
        report is written to logs/ppg_report.html afterwards, also when jobs failed. With
        `targets` (job ids, output files or glob patterns; else $PYPIPEGRAPH_TARGETS) only
        those jobs and what they need are checked and run (targets.py)."""
        if self.has_run:
            raise ValueError(
                "Each pipegraph may be run only once. Call ppg.new_pipegraph() and define the "
                "jobs again for another run; only what changed runs."
            )
        self._connect_without_collecting()  # callbacks may still add jobs: the graph is not running yet
        self.targets = wanted(targets)
        self.has_run = True
        self.running = True
        if state.plan_mode:
            try:
                jobs = self._order()
            finally:
                self.running = False
            raise PlanComplete(self, jobs, os.getcwd())
        handler = self._attach_log_file()
        socket_handler = attach_socket_handler(self.log_socket)
        gc_enabled = gc.isenabled()
        gc.disable()  # the run allocates much and frees little: collecting is wasted time
        try:
            jobs = self._order()
            runlog = RunLog()
            if self.targets is not None:
                runlog.line(self.targets_line)
                if not self.quiet:
                    print(f"pypipegraph: {self.targets_line}")
            self.legacy_status_source = legacy_status_file(self.invariant_status_filename)
            store = History(self.invariant_status_filename, self._own_id)
            try:
                runlog.write_graph(jobs, gml=False)
                if self.dump_graph and runlog.enabled:  # as 0.197: in a forked child
                    self.dump_pid = runlog.write_gml_in_child(jobs)
                with store:
                    self.store = store
                    rebuilder = Rebuilder(store, runlog.line)
                    adopt_legacy_status(self, jobs, store, rebuilder)
                    scheduler, progress, server = self._run_scheduler(jobs, store, rebuilder, runlog, report)
            finally:
                runlog.close()
                self.report_file = write_report_if_wanted(self.invariant_status_filename, store.run_id,
                                                          report, self.report)
        finally:
            self.running = False
            self.store = None
            if gc_enabled:
                gc.enable()
            detach(socket_handler)
            if handler is not None:
                logger.removeHandler(handler)
                handler.close()
        self._end(scheduler, progress, server, runlog)

    def _run_scheduler(self, jobs, store, rebuilder, runlog, report):
        """Run the jobs with the standard listeners and views; a Ctrl-C is summed up here."""
        progress = Progress()
        console = Console(quiet=self.quiet, interactive=self._interactive())
        server = ControlServer(self.invariant_status_filename, progress, console)
        budget = self.rc.budget()
        apply_memory_estimates(self.jobs, store.memory, budget)  # usage.py
        scheduler = self.scheduler(jobs, rebuilder, budget,
                                   standard_listeners(store, runlog, console, progress, server) + self.listeners,
                                   console=Controls(console, server))
        with ending_on_signals():  # SIGTERM and SIGHUP take the path of Ctrl-C
            try:
                self.failed_jobs = scheduler.run()
            except KeyboardInterrupt as exc:
                self.failed_jobs = list(scheduler.failed)
                if isinstance(exc, Terminated):
                    raise _terminated(exc, scheduler, progress, console, runlog) from None
                console.print(ending(progress, "interrupted", *_log_names(runlog)))  # no report yet
                _summarised(exc)
                raise
            finally:
                try:
                    if store.graph_jobs != len(scheduler.jobs) and (
                            scheduler.n_ran or scheduler.failed or report_wanted(report, self.report)):
                        # kept when the first job started, again when jobs were generated since; a
                        # run where nothing ran needs no graph: spare the no-op rerun
                        keep_graph(store, scheduler)
                finally:
                    self._release_edges()
        return scheduler, progress, server

    def _own_id(self, job_id: str) -> str:
        """The graph's own str for `job_id` (the store keys its records by it: one copy)."""
        job = self.jobs.get(job_id)
        return job_id if job is None else job.job_id

    def _interactive(self) -> bool | None:
        """Commands on stdin: as asked, else when the coordinator allows and stdin is a terminal."""
        if self.interactive is not None:
            return self.interactive
        return None if getattr(self.rc, "interactive", True) else False

    def _attach_log_file(self):
        if not self.log_file:
            return None
        handler = file_handler(self.log_file)  # None (and a warning) when it cannot be opened
        if handler is None:
            return None
        handler.setLevel(self.log_level)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > self.log_level:
            logger.setLevel(self.log_level)
        return handler

    def _connect_without_collecting(self) -> None:
        """connect_graph() with the collector paused: the implicit invariants it makes (one
        per job) live as long as the graph, so collecting while it makes them is wasted time."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.connect_graph()
        finally:
            if enabled:
                gc.enable()

    def connect_graph(self) -> None:
        """Resolve depends_on placeholders (also ones returning placeholders) and add the
        implicit invariants (`job.inject_auto_invariants()`, which a class may override).
        Idempotent; run() calls it before the graph counts as running."""
        while True:
            waiting = [job for job in self.jobs.values() if job._placeholders]
            if not waiting:
                break
            for job in waiting:
                job.resolve_placeholders()
        for job in list(self.jobs.values()):
            job.inject_auto_invariants()
        self._wire_final_jobs()

    def _wire_final_jobs(self) -> None:
        """As 0.197 showed it: every FinalJob is a dependant of each job without other
        dependants. The scheduler runs final jobs after everything anyway; _order takes
        these edges out again before the run."""
        jobs = self.jobs.values()
        finals = [job for job in jobs if job.is_final]
        if not finals:
            return
        sinks = [job for job in jobs
                 if not job.is_final and all(dependant.is_final for dependant in job.dependants)]
        for final in finals:
            final.prerequisites.update(sinks)
            for sink in sinks:
                sink.dependants.add(final)
        self._wired_finals = finals

    def _unwire_final_jobs(self) -> None:
        for final in self._wired_finals:
            for up in final.prerequisites:
                up.dependants.discard(final)
            final.prerequisites.clear()
        self._wired_finals = []

    def _release_edges(self) -> None:
        """After a run the jobs' edges are released (0.197: `prerequisites` and `dependants`
        are None), so the graph's jobs can be collected."""
        for job in self.jobs.values():
            job.prerequisites = job.dependants = None

    def prepare(self) -> list:
        """Connect the graph (placeholders, implicit invariants) and return the jobs that
        will run, upstream first: what `run()` hands the scheduler. Test drivers use it too."""
        self.connect_graph()
        return self._order()

    def scheduler(self, jobs: list, rebuilder: Rebuilder, budget, listeners: list, executor=None,
                  console=None) -> Scheduler:
        """The composition root: the Scheduler with its world (executors, ready queue, named
        resources, listeners) built from this graph's options. `executor` replaces the
        coordinator's (the unit tier's fake executor)."""
        return Scheduler(
            jobs, rebuilder, budget,
            executor=executor if executor is not None else self.rc.executor(jobs, budget),
            in_master=InMasterExecutor(),
            ready=ReadyQueue(rebuilder.store, self.critical_path and rebuilder.has_records(),
                             unblocking=self.critical_path),
            named=NamedResources(self.resources),
            listeners=listeners, console=console,
        )

    def _order(self) -> list:
        """Drop pruned jobs, keep what the targets need, and order the rest (run() connected
        the graph just before)."""
        self._unwire_final_jobs()
        active = self._unpruned()
        if self.targets is not None:
            total = sum(1 for job in active if not job.is_invariant)
            active = select(active, self.outputs, self.targets)
            needed = sum(1 for job in active if not job.is_invariant)
            self.targets_line = targets_summary(self.targets, needed, total)
        order = topological_order(active, self.edge_sites)
        self.check_resource_needs(order)
        return order

    def check_resource_needs(self, jobs) -> None:
        """ResourceError naming the first job that needs an undeclared or too small resource."""
        pool = NamedResources(self.resources)
        for job in jobs:
            if job.resource_needs:
                pool.check(job)

    def _unpruned(self) -> list:
        """The jobs that are not pruned. A pruned job's `_pruned` becomes its id, and every job
        downstream of it (but final jobs) gets that id too (0.197's `_pruned` reason)."""
        jobs = self.jobs.values()
        roots = [job for job in jobs if job._pruned]
        if not roots:
            return list(jobs)
        for root in roots:
            if root._pruned is not True:
                continue  # downstream of a root handled before
            reason = root._pruned = root.job_id
            stack = list(root.dependants)
            seen = set()
            while stack:
                job = stack.pop()
                if job in seen or job.is_final:
                    continue
                seen.add(job)
                job._pruned = reason
                stack.extend(job.dependants)
        return [job for job in jobs if not job._pruned]

    def _end(self, scheduler, progress, server, runlog) -> None:
        """Print how the run ended; raise RunInterrupted after a stop or abort, ppg.RuntimeError
        when jobs failed. Both are marked as summed up: uncaught, they print one line instead
        of the engine's traceback (see _excepthook)."""
        failed = self.failed_jobs
        outcome = ("aborted" if scheduler.aborting else "stopped" if scheduler.stopping
                   else "failed" if failed else "ok")
        by = server.stopped_by or "the console"
        if outcome != "ok" or not self.quiet:
            print(ending(progress, outcome, *_log_names(runlog), report=self.report_file, by=by))
        if outcome in ("stopped", "aborted"):
            where = (f"see {runlog.errors_filename}" if runlog.enabled
                     else "`ppg status --state failed` lists them")
            raise _summarised(RunInterrupted(
                f"The run was {outcome} from {by} after {scheduler.n_ran} job(s) ran; finished jobs are "
                "recorded, the rest run next time."
                + (f" {len(failed)} job(s) failed or were killed: {where}." if failed else "")))
        if not failed:
            self._raise_loading_issues()
            return
        where = (
            f"Tracebacks, stdout and stderr: {runlog.errors_filename}."
            if runlog.enabled
            else "See job.exception and job.stderr of each failed job "
            "(create a logs/ directory to get logs/ppg_errors.txt)."
        )
        raise _summarised(RuntimeError(error_message(progress, failed, where),
                                       exceptions=[job.exception for job in failed], failed_jobs=failed))


    def _raise_loading_issues(self) -> None:
        """0.197's end of a run in which a value of its status file could not be unpickled:
        the jobs depending on it reran, and the run raises ppg.RuntimeError naming them."""
        issues = {job_id: exc for job_id, exc in self.invariant_loading_issues.items() if job_id in self.jobs}
        if not issues:
            return
        names = ", ".join(f"{job_id} ({type(exc).__name__}: {exc})" for job_id, exc in sorted(issues.items()))
        raise _summarised(RuntimeError(
            f"The stored values of {names} in pypipegraph 0.197's status file could not be "
            "unpickled; the jobs depending on them ran again. The next run uses this version's "
            "store and does not report this again."))


def _terminated(exc: Terminated, scheduler, progress, console, runlog) -> RunTerminated:
    """The summary of a run ended by a signal (written where it can be: after SIGHUP the
    terminal may be gone), and the exception that exits with 128 + the signal's number."""
    name = str(exc)
    error = RunTerminated(exc.signum, f"The run was ended by {name} after {scheduler.n_ran} job(s) ran; finished "
                                      "jobs are recorded, the rest run next time.")
    for write in (console.print, lambda text: print(text, file=sys.stderr, flush=True)):
        try:
            write(ending(progress, name, *_log_names(runlog)))
            write(f"pypipegraph: {error} Exit status {error.code}.")
            break
        except (OSError, ValueError):  # a closed terminal (EIO) or stream
            continue
    return error


def _log_names(runlog) -> tuple:
    """(errors file, run log) when logs are kept, else (None, None)."""
    return (runlog.errors_filename, os.path.join(runlog.log_dir, "ppg_run.txt")) if runlog.enabled else (None, None)


def _summarised(error: BaseException) -> BaseException:
    """Mark `error` as summed up on the terminal already; uncaught, it prints one line."""
    error.ppg_summary_printed = True
    if sys.excepthook is not _excepthook:
        _previous_hook[0] = sys.excepthook
        sys.excepthook = _excepthook
    return error


_previous_hook = [sys.__excepthook__]


def _excepthook(kind, value, tb) -> None:
    """An uncaught error of a run that printed its summary shows as one line, not as a
    traceback through the engine's frames; Python then exits with 1 (or, for Ctrl-C, by
    SIGINT: 130 in a shell). Every other exception goes to the previous hook."""
    if getattr(value, "ppg_summary_printed", False):
        first = (str(value).splitlines() or [""])[0].rstrip(":.")
        name = "KeyboardInterrupt" if kind is KeyboardInterrupt else f"ppg.{kind.__name__}"
        sys.stderr.write(f"{name}: {first or 'interrupted'}; see the summary above\n")
        return
    _previous_hook[0](kind, value, tb)


def new_pipegraph(*args, **kwargs) -> Pipegraph:
    """Create a new global pipegraph (forgetting the previous one) and return it."""
    gc.unfreeze()  # the previous graph's jobs may be collected now
    forget_global_values()
    graph = Pipegraph(*args, **kwargs)
    state.global_pipegraph = graph
    return graph


def run_pipegraph(*args, **kwargs) -> None:
    """Run the global pipegraph."""
    graph = state.global_pipegraph
    if graph is None:
        raise ValueError("No pipegraph to run: call ppg.new_pipegraph() and create jobs first.")
    graph.run(*args, **kwargs)

