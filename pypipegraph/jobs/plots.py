"""PlotJob: a cached calculation (pandas DataFrames), a table of it, and a rendered plot.

Invariant: the plot job renders `output_filename` from data it never computes itself
(unless `skip_caching`): the calculation runs in the cache job, which pickles its
result; plot and table jobs unpickle it in their worker. Each function is watched by
its own FunctionInvariant, so a changed plot function (or fiddle, or render_args)
reruns only the plot, and a changed calculation reruns the plot only when its pickled
result changed (early cutoff). pandas/matplotlib/plotnine are imported lazily, inside
the jobs, never by `import pypipegraph`.

Files (see docs/plots.md):
    output_filename                                  the plot (.png, .pdf or .svg)
    output_filename + ".tsv"                         the table (unless skip_table)
    <cache_folder>/<output_filename>                 the pickled calc result (unless skip_caching)
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import JobContractError
from ..hashing import describe_function, hash_value
from ..plumbing.safe_files import write_file
from .base import Job, normalize_id
from .invariants import FunctionInvariant, ParameterInvariant
from .loading import load_cache
from .output import FileGeneratingJob

ALLOWED_SUFFIXES = (".png", ".pdf", ".svg")


def _code(function: Callable):
    return getattr(function, "__code__", function)


def _require_libraries(job_id: str) -> None:
    missing = [name for name in ("pandas", "matplotlib") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"PlotJob {job_id!r} needs {' and '.join(missing)}: install the plot extra "
            "(pip install 'pypipegraph[plot]', which brings pandas, matplotlib and plotnine)."
        )


def cache_filename_for(output_filename: str, cache_folder: str | None) -> str:
    """Where the calc result of the plot `output_filename` is pickled: `<cache_folder>/<output
    name>`, as in 0.197 (a path outside the project goes under `<cache_folder>/plots/`, quoted)."""
    if os.path.isabs(output_filename):
        return os.path.join(cache_folder or "cache", "plots", quote(output_filename, safe=""))
    return os.path.join(cache_folder or "cache", output_filename)


def _make_parent(filename: str) -> None:
    parent = os.path.dirname(filename)
    if parent:
        os.makedirs(parent, exist_ok=True)


def _check_data(value: Any, job_id: str, calc_function: Callable) -> None:
    """JobContractError (in 0.197's words) unless `value` is a DataFrame or a dict of DataFrames."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return
    problem = f"{type(value).__name__} {value!r:.80}"
    if isinstance(value, dict):
        wrong = [key for key, frame in value.items() if not isinstance(frame, pd.DataFrame)]
        if not wrong:
            return
        problem = f"a dict whose entry {wrong[0]!r} is a {type(value[wrong[0]]).__name__}"
    raise JobContractError(
        f"{job_id}.calc_function did not return a DataFrame (or dict of such), was {value.__class__} "
        f"- calc_function {describe_function(calc_function)} returned {problem}; it must return a "
        "pandas DataFrame or a dict of DataFrames."
    )


def _has_default_index(frame) -> bool:
    import pandas as pd

    index = frame.index
    return (
        isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1
    )


def write_table(data, filename: str) -> None:
    """A DataFrame as TSV; a dict of them as one file, each table after a '#<key>' line.

    The index is written unless it is the default one (an unnamed 0, 1, 2, ... index).
    """
    with open(filename, "w", newline="") as fh:
        if not isinstance(data, dict):
            data.to_csv(fh, sep="\t", index=not _has_default_index(data))
            return
        for number, (key, frame) in enumerate(data.items()):
            if number:
                fh.write("\n")
            fh.write(f"#{key}\n")
            frame.to_csv(fh, sep="\t", index=not _has_default_index(frame))


def render_plot(plot: Any, filename: str, render_args: dict, job_id: str) -> None:
    """Save a matplotlib Figure/Axes or a plotnine plot to `filename` (format from its suffix)."""
    import matplotlib

    fmt = Path(filename).suffix.lower()[1:]
    kwargs: dict = {}
    # No timestamps/random ids: an unchanged plot renders to the same bytes, so
    # jobs depending on the plot file see an unchanged fingerprint.
    if fmt == "pdf":
        kwargs["metadata"] = {"CreationDate": None}
    elif fmt == "svg":
        kwargs["metadata"] = {"Date": None}
    kwargs.update(render_args)
    with matplotlib.rc_context({"svg.hashsalt": "pypipegraph"}):
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure

        if hasattr(plot, "pd") and not isinstance(plot, (Axes, Figure)) and hasattr(plot.pd, "render"):
            plot = plot.pd  # a dppd proxy wraps the plot object
        if isinstance(plot, Axes):
            plot = plot.figure
        if isinstance(plot, Figure):
            plot.savefig(filename, format=fmt, **kwargs)
        elif type(plot).__module__.split(".")[0] == "plotnine" and hasattr(plot, "save"):
            kwargs.setdefault("verbose", False)
            plot.save(filename, format=fmt, **kwargs)
        elif hasattr(plot, "render"):  # any plot object that renders itself (0.197: pyggplot)
            plot.render(filename, **render_args)
        elif hasattr(plot, "save"):
            plot.save(filename, **render_args)
        else:
            raise JobContractError(
                f"PlotJob {job_id!r}: the plot function (after fiddles) returned "
                f"{type(plot).__name__} {plot!r:.80}; it must return a plotnine plot or a matplotlib "
                "Figure (or Axes)."
            )


class PlotJob(FileGeneratingJob):
    """Render `plot_function(calc_function())` to `output_filename` (.png, .pdf, .svg).

    `calc_function()` returns a pandas DataFrame or a dict of DataFrames; it runs in the
    cache job (`.cache_job`) and is pickled, and is written as a table by `.table_job`
    (`output_filename + ".tsv"`). `plot_function(data)` returns a plotnine plot or a
    matplotlib Figure; `render_args` go to plotnine's `save` / matplotlib's `savefig`.
    Dependencies added with `depends_on` are inputs of the calculation.
    """

    def __new__(cls, output_filename, *args, **kwargs):
        return Job.__new__(cls, output_filename)

    def __init__(self, output_filename, calc_function: Callable, plot_function: Callable,
                 render_args: dict | None = None, skip_table: bool = False, skip_caching: bool = False):
        job_id = self.job_id
        suffix = Path(job_id).suffix
        if suffix.lower() not in ALLOWED_SUFFIXES:
            raise ValueError(
                f"PlotJob {job_id!r}: cannot render a {suffix or 'suffix-less'!s} file; the output "
                f"filename must end in one of {', '.join(ALLOWED_SUFFIXES)}."
            )
        if not callable(calc_function):
            raise TypeError(f"PlotJob {job_id!r}: calc_function must be callable, got {calc_function!r}")
        if not callable(plot_function):
            raise TypeError(f"PlotJob {job_id!r}: plot_function must be callable, got {plot_function!r}")
        if render_args is None:
            render_args = {}
        if not isinstance(render_args, Mapping):
            raise TypeError(
                f"PlotJob {job_id!r}: render_args must be a dict (or None), got {render_args!r}"
            )
        render_args = dict(render_args)
        signature = (
            _code(calc_function), _code(plot_function), hash_value(render_args),
            bool(skip_table), bool(skip_caching),
        )
        old = self.__dict__.get("_plot_signature")
        if old is not None:
            if old != signature:
                raise ValueError(
                    f"PlotJob {job_id!r} was defined twice with different arguments. Each job id may "
                    "only be defined once; use distinct ids, or the same arguments."
                )
            return
        _require_libraries(job_id)
        self._setup([job_id], self._render, False, False)
        self._plot_signature = signature
        self.calc_function = calc_function
        self.plot_function = plot_function
        self.render_args = render_args
        self.skip_table = bool(skip_table)
        self.skip_caching = bool(skip_caching)
        self._fiddles: list[Callable] = []
        self._other_plots: list[PlotJob] = []
        self.cache_job = None
        self.table_job = None
        if not skip_caching:
            self.cache_job = _PlotCacheJob(cache_filename_for(job_id, self._graph.cache_folder), self)
            Job._add_prerequisite(self, self.cache_job)
        if not skip_table:
            self.table_job = _PlotTableJob(job_id + ".tsv", self)

    # --- what the plot job runs ---------------------------------------------

    def get_data(self):
        """The calc result: unpickled from the cache, or calculated (skip_caching)."""
        if self.cache_job is not None:
            return load_cache(self.cache_job.job_id, self.job_id)
        data = self.calc_function()
        _check_data(data, self.job_id, self.calc_function)
        return data

    def _render(self) -> None:
        import matplotlib

        matplotlib.use("Agg")  # forked worker: never a GUI backend
        _make_parent(self.job_id)
        try:
            plot = self.plot_function(self.get_data())
            for fiddle in self._fiddles:
                fiddled = fiddle(plot)
                if fiddled is not None:  # None: the fiddle changed the plot in place
                    plot = fiddled
            render_plot(plot, self.job_id, self.render_args, self.job_id)
        finally:
            if "matplotlib.pyplot" in sys.modules:  # workers are reused: drop this job's figures
                sys.modules["matplotlib.pyplot"].close("all")

    # --- API -------------------------------------------------------------------

    def prune(self) -> None:
        """Nothing of the plot runs: its calculation (cache job, and the table after it) neither."""
        if self.cache_job is not None and self.__dict__.get("_data_source") is None:
            self.cache_job.prune()
        Job.prune(self)

    def unprune(self) -> None:
        if self.cache_job is not None and self.__dict__.get("_data_source") is None:
            self.cache_job.unprune()
        Job.unprune(self)

    def add_fiddle(self, fiddle_function: Callable) -> PlotJob:
        """`fiddle_function(plot)` returns the modified plot (or None after changing it in
        place); fiddles run in the order added, before rendering. Returns this job."""
        if not callable(fiddle_function):
            raise TypeError(f"PlotJob {self.job_id!r}: add_fiddle needs a callable, got {fiddle_function!r}")
        self._fiddles.append(fiddle_function)
        return self

    def add_another_plot(self, output_filename, plot_function: Callable,
                         render_args: dict | None = None) -> PlotJob:
        """Another PlotJob drawing `plot_function(data)` from the same calculation; returns it.

        It shares `.cache_job` (the calculation runs once) and has no table job.
        """
        existed = normalize_id(output_filename, "PlotJob") in self._graph.jobs
        other = PlotJob(output_filename, self.calc_function, plot_function, render_args,
                        skip_table=True, skip_caching=True)
        source = other.__dict__.get("_data_source")
        if source is self:
            return other
        if existed:
            raise ValueError(
                f"add_another_plot on {self.job_id!r}: a job {other.job_id!r} exists already; "
                "another plot needs a file of its own."
            )
        other._data_source = self
        if self.cache_job is not None:
            other.cache_job = self.cache_job
            other.skip_caching = False
            Job._add_prerequisite(other, self.cache_job)
        else:  # the other plot calculates too; it gets the same inputs
            other.depends_on(list(self.prerequisites), list(self._placeholders or ()))
            self._other_plots.append(other)
        return other

    def depends_on(self, *other_jobs) -> PlotJob:
        """Dependencies are inputs of the calculation: they go to the cache job (with
        skip_caching: to this job, its table job and its other plots)."""
        if self.cache_job is not None:
            self.cache_job.depends_on(*other_jobs)
            return self
        Job.depends_on(self, *other_jobs)
        if self.table_job is not None:
            self.table_job.depends_on(*other_jobs)
        for other in self._other_plots:
            other.depends_on(*other_jobs)
        return self

    def use_cores(self, cores: int) -> PlotJob:
        """The cores are for the calculation: they go to the cache job when there is one."""
        target = self.cache_job if self.cache_job is not None else None
        if target is not None:
            target.use_cores(cores)
        else:
            Job.use_cores(self, cores)
        return self

    def ignore_code_changes(self) -> None:
        """Watch none of the functions: calc, plot, fiddles."""
        Job.ignore_code_changes(self)
        if self.cache_job is not None and self.__dict__.get("_data_source") is None:
            self.cache_job.ignore_code_changes()
        if self.table_job is not None:
            self.table_job.ignore_code_changes()

    def auto_invariants(self) -> list[Job]:
        # Added here directly: returned invariants would go through depends_on, which
        # forwards to the cache job.
        # 0.197's ids, so that plots computed by 0.197 are adopted
        job_id = self.job_id
        invariants: list[Job] = [ParameterInvariant(job_id + "_params", self.render_args)]
        if not self._ignore_code_changes:
            invariants.append(FunctionInvariant(job_id + ".plotfunc", self.plot_function))
            invariants.extend(
                FunctionInvariant(job_id + "_fiddle" + (f"_{number}" if number else ""), fiddle)
                for number, fiddle in enumerate(self._fiddles)
            )
            if self.cache_job is None:
                invariants.append(FunctionInvariant(job_id + ".calcfunc", self.calc_function))
        for invariant in invariants:
            Job._add_prerequisite(self, invariant)
        return []


class _PlotCacheJob(FileGeneratingJob):
    """`.cache_job`: runs the calculation in a worker, checks and pickles its result."""

    def __init__(self, cache_filename, plot_job: PlotJob):
        # no reference back to the plot job: libraries walk Job-valued attributes recursively
        self.plot_job_id = plot_job.job_id
        self.calc_function = plot_job.calc_function
        self._setup([self.job_id], self._calculate, False, False)

    def _calculate(self) -> None:
        value = self.calc_function()
        _check_data(value, self.plot_job_id, self.calc_function)
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        _make_parent(self.job_id)
        write_file(self.job_id, data)

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant(self.plot_job_id + ".calcfunc", self.calc_function)]


class _PlotTableJob(FileGeneratingJob):
    """`.table_job`: writes the calc result as a TSV table."""

    def __init__(self, filename, plot_job: PlotJob):
        # no reference back to the plot job (see _PlotCacheJob)
        self.plot_job_id = plot_job.job_id
        self.calc_function = plot_job.calc_function
        self._get_data = plot_job.get_data
        self._cached = plot_job.cache_job is not None
        self._setup([self.job_id], self._write, False, True)
        if plot_job.cache_job is not None:
            self.depends_on(plot_job.cache_job)

    def _write(self) -> None:
        _make_parent(self.job_id)
        write_table(self._get_data(), self.job_id)

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes or self._cached:
            return []
        return [FunctionInvariant(self.plot_job_id + ".calcfunc", self.calc_function)]


def CombinedPlotJob(output_filename, plot_jobs: list, facet_arguments, render_args: dict | None = None,  # noqa: N802
                    fiddle: Callable | None = None) -> FileGeneratingJob:
    """One plot of the data of several PlotJobs, faceted (0.197's API; needs a plot object
    with `facet_wrap`, such as plotnine's through a fiddle). `facet_arguments` is a list
    (positional, empty: no faceting) or a dict (keyword) for `plot.facet_wrap`."""
    output_filename = Job.verify_job_id(output_filename)
    if not output_filename.endswith((".png", ".pdf")):
        raise ValueError(
            f"CombinedPlotJob {output_filename!r}: Don't know how to create this file, must end on .png or .pdf"
        )
    if not plot_jobs:
        raise ValueError(f"CombinedPlotJob {output_filename!r}: plot_jobs must not be empty")
    if not all(isinstance(job, PlotJob) for job in plot_jobs):
        raise ValueError(f"CombinedPlotJob {output_filename!r}: all plot_jobs must be PlotJob instances")
    if not isinstance(facet_arguments, (list, dict)):
        raise ValueError(
            f"CombinedPlotJob {output_filename!r}: Facet arguments must be a list or a dict to be "
            "passed to plot.facet_wrap"
        )
    render_args = {"width": 10, "height": 10} if render_args is None else dict(render_args)
    sources = [(job.get_data, job.plot_function) for job in plot_jobs]  # no references to the jobs

    def plot() -> None:
        import pandas as pd

        data = pd.concat([get_data() for get_data, _ in sources], axis=0)
        figure = sources[0][1](data)
        if isinstance(facet_arguments, dict):
            figure.facet_wrap(**facet_arguments)
        elif facet_arguments:
            figure.facet_wrap(*facet_arguments)
        if fiddle is not None:
            fiddle(figure)
        render_plot(figure, output_filename, render_args, output_filename)

    job = FileGeneratingJob(output_filename, plot)
    job.depends_on(ParameterInvariant(
        output_filename + "_params",
        (sorted(j.job_id for j in plot_jobs), render_args, facet_arguments),
    ))
    job.depends_on(FunctionInvariant(output_filename + "_fiddle", fiddle))
    job.depends_on([j.cache_job if j.cache_job is not None else j for j in plot_jobs])
    job.depends_on(FunctionInvariant(output_filename + "_plot_combined", plot_jobs[0].plot_function))
    return job
