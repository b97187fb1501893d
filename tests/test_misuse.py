"""The misuse catalogue (docs/errors.md): one test per case, asserting the exact message.

Every message below is shown verbatim in the case of the same number in docs/errors.md
(`test_doc_shows_every_message` checks that), so changing a message means updating the
catalogue too. Parts that vary (paths, pids, machine sizes) are written as placeholders
from PLACEHOLDERS and filled in by the tests.
"""

import os
import re
import sqlite3
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

import pypipegraph as ppg
from pypipegraph.resources import ResourceError
from pypipegraph.store.writer import FORMAT_VERSION, History

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
STORE = ".pypipegraph_status_robust"

PLACEHOLDERS = ("<module>", "<file>", "<line>", "<pid>", "<bytes>", "<generator>", "<dir>",
                "<unpickling error>", "<found>", "<supported>", "<hash>")

# case number (the "### N." heading in docs/errors.md) -> the messages that case shows
M = {
    1: ["FileGeneratingJob: job_id must be a str (or pathlib.Path), got int 5",
        "DataLoadingJob: job_id must be a str (or pathlib.Path), got NoneType None"],
    2: ["FileGeneratingJob 'out/report.txt': function was not a callable (got None)",
         "DataLoadingJob 'genome': callback was not a callable (got None)."],
    3: ["FileGeneratingJob 'out/ab.txt': the callback <module>.combine takes 2 required arguments; "
        "it must take none or one (the output filename(s))."],
    4: ["DataLoadingJob 'genome': the callback load_genome takes 1 required argument; loader, "
        "generator and final-job callbacks are called without arguments (reach your data through a "
        "closure or a default argument)."],
    5: ["MultiFileGeneratingJob takes a list of filenames, not the single string 'out/a.txt'; "
        "use FileGeneratingJob for one file.",
        "filenames was not iterable"],
    6: ["out/a.txt:out/b.txt: the output file out/a.txt is already written by job out/a.txt. "
        "Two jobs may not write the same file."],
    7: ["Same job id, different job classes for 'out/a.txt': it is already a FileGeneratingJob, cannot redefine it as a TempFileGeneratingJob. Use another id."],
    8: ["Job 'out/a.txt' was defined twice with different arguments (FileGeneratingJob). Each job id "
        "may only be defined once; use distinct ids, or the same arguments."],
    9: ["Job 'PIfilter' was defined twice with different arguments (ParameterInvariant). Each job id "
        "may only be defined once; use distinct ids, or the same arguments."],
    10: ["Same job id, different job classes for 'out/a.txt': it is already a FileGeneratingJob, cannot redefine it as a FileChecksumInvariant. Use another id.",
         "Same job id, different job classes for 'out/a.txt': it is already a FileChecksumInvariant, cannot redefine it as a FileGeneratingJob. Use another id."],
    11: ["AttributeLoadingJob 'lengths': attribute_name must be a str, got Stats()"],
    12: ["PlotJob 'out/squares.jpg': cannot render a .jpg file; the output filename must end in one "
         "of .png, .pdf, .svg."],
    13: ["Cached job 'cache/lengths.pickle' was defined twice with different calc functions. Each "
         "cache file belongs to one calculation; use another filename.",
         "CachedDataLoadingJob 'cache/lengths.pickle_load' was defined twice with different store "
         "functions; use another cache filename."],
    14: ["out/a.txt: cores_needed must be a positive int, -1 (all cores) or -2 (all cores, small jobs "
         "may run beside it); got 0"],
    15: ["out/a.txt: memory_needed must be bytes (an int >= 0) or -1; got '4GB'"],
    16: ["FunctionInvariant 'smooth' created twice with different functions (<module>.smooth). Give each function its own id."],
    17: ["ParameterInvariant 'PIfilter': cannot fingerprint a value of type lock: cannot pickle "
         "'_thread.lock' object. Pass a picklable value (or a repr-able summary of it)."],
    18: ["out/a.txt: depends_on takes jobs, lists of jobs, None or a callable returning jobs; got str "
         "'reads.fa'. For a file use depends_on_file(); for parameters depends_on_params().",
         "out/a.txt: depends_on takes jobs, lists of jobs, None or a callable returning jobs; got int "
         "3. For a file use depends_on_file(); for parameters depends_on_params()."],
    19: ["expected a job or a filename, got ['a.fa', 'b.fa']"],
    20: ["out/a.txt: depends_on takes jobs, lists of jobs, None or a callable returning jobs; got str "
         "'out/b.txt'. For a file use depends_on_file(); for parameters depends_on_params()."],
    21: ["Job 'out/a.txt' cannot depend on itself."],
    22: ["Cycle: 'out/b.txt' -> 'out/a.txt' -> 'out/b.txt'. Two jobs cannot depend on each other."],
    23: ["The job graph has a cycle: out/b.txt -> out/a.txt -> out/c.txt -> out/b.txt. Each arrow "
         "means 'is needed by'; remove one of these dependencies:\n"
         "  out/a.txt depends on out/b.txt  (<file>:<line>)\n"
         "  out/c.txt depends on out/a.txt  (<file>:<line>)\n"
         "  out/b.txt depends on out/c.txt  (<file>:<line>)"],
    24: ["Mixing jobs from different pipegraphs is not supported: job 'out/a.txt' belongs to an earlier pipegraph; 'out/b.txt' cannot depend on it. Create it again after ppg.new_pipegraph()."],
    25: ["ParameterInvariant 'PIthreshold' cannot depend on other jobs (tried 'out/a.txt'): "
         "invariants are checked, never run."],
    26: ["Final jobs can not have explicit dependencies - they run in random order after all other jobs "
         "(FinalJob 'summary' cannot depend on 'out/a.txt').",
         "No jobs can depend on FinalJobs"],
    27: ["Cannot create a job: no pipegraph exists. Call ppg.new_pipegraph() first.",
         "No pipegraph to run: call ppg.new_pipegraph() and create jobs first."],
    28: ["This pipegraph was already run. You need to create a new one for more jobs "
         "(ppg.new_pipegraph())."],
    29: ["Each pipegraph may be run only once. Call ppg.new_pipegraph() and define the jobs again "
         "for another run; only what changed runs."],
    30: ["FileGeneratingJob 'out/a.txt' did not create its file(s) out/a.txt. The callback must write every declared output.",
         "1 job(s) failed:\n  out/a.txt: JobContractError: FileGeneratingJob 'out/a.txt' did not create its file(s) out/a.txt. The callback must write every declared output.\nTracebacks, stdout and stderr: logs/ppg_errors.txt."],
    31: ["FileGeneratingJob 'out/a.txt' did not create its file(s) out/a.txt with content: the output is empty. Pass empty_ok=True when an empty file is a valid result."],
    32: ["FileGeneratingJob 'out/0.txt' did not create its file(s) out/0.txt. The callback must write every declared output."],
    33: ["out/a.txt called sys.exit('no reads found'); job callbacks must not exit the process: "
         "raise an exception instead"],
    34: ["FileChecksumInvariant 'reads.fa': input file reads.fa does not exist (needed by out/a.txt). "
         "Create it before the run; if a job writes it, depend on that job."],
    35: ["out/a.txt needs 3 cores, only 2 are available. Lower cores_needed (or use -1 for 'all cores').",
         "out/a.txt needs 1152921504606846976 bytes of memory, the machine has <bytes>. "
         "Lower memory_needed."],
    36: ["Trying to add new jobs to running pipeline without having new_jobs set (ie. outside of a graph "
         "modifying job) - tried to add FileGeneratingJob 'out/extra.txt': "
         "DataLoadingJob 'genome' tried to create a job. Loading jobs may not create jobs; use a "
         "JobGeneratingJob or DependencyInjectionJob for that."],
    37: ["[Errno 2] No such file or directory (the output directory cache does not exist; pypipegraph "
         "does not create output directories: create it before ppg.run_pipegraph(), e.g. "
         "os.makedirs('cache', exist_ok=True)): 'cache/lengths.pickle'"],
    38: ["cache/lengths.pickle: the calculation's result (generator) cannot be pickled into the cache "
         "file: cannot pickle 'generator' object"],
    39: ["cache/lengths.pickle_load: Unpickling error in file cache/lengths.pickle: refused, it is not the file "
         "cache/lengths.pickle wrote (its size and modification time are the recorded ones, its content is not: "
         "it was replaced behind the pipeline's back). Delete it to have it recalculated."],
    40: ["cache/errors.pickle_load: Unpickling error in file cache/errors.pickle (TypeError: ParseError.__init__() missing 1 required positional argument: 'reason'). Delete it to have it recalculated."],
    41: ["JobGeneratingJob 'reports' added a dependency ('out/report_a.txt') to 'out/summary.txt', a job "
         "that existed before it ran. Generated jobs may depend on existing jobs, not the other way "
         "round; use a DependencyInjectionJob for that."],
    42: ["Job 'out/x.txt' was defined twice with different arguments (FileGeneratingJob). Each job id "
         "may only be defined once; use distinct ids, or the same arguments."],
    43: ["out/a.txt:out/b.txt: the output file out/a.txt is already written by job out/a.txt. "
         "Two jobs may not write the same file."],
    44: [],
    45: ["DependencyInjectionJob 'pages' tried to inject 'pages/1.html' into 'out/summary.txt', but "
         "'out/summary.txt' was not dependand on the DependencyInjectionJob. Make it depend on 'pages' first."],
    46: ["DependencyInjectionJob 'pages' returned 'p'; return jobs (or None).",
         "'int' object is not iterable"],
    47: [".pypipegraph_status_robust is not a readable pypipegraph status store (file is not a "
         "database). It was left untouched; move it away to start from scratch (every job will run "
         "again), or restore it from a backup.",
         ".pypipegraph_status_robust is an SQLite file but not a pypipegraph status store. Move it "
         "away or pass another invariant_status_filename.",
         ".pypipegraph_status_robust is empty (0 bytes), not a pypipegraph status store. It was left "
         "untouched; move it away to start from scratch (every job will run again), or restore it "
         "from a backup.",
         "cannot write the status store .pypipegraph_status_robust (attempt to write a readonly "
         "database): is the directory or the file read-only, or the disk full? Nothing was run."],
    48: [".pypipegraph_status_robust was written by a newer pypipegraph (store format <found>, this "
         "version reads up to <supported>). Upgrade pypipegraph."],
    49: ["Another pypipegraph run is using .pypipegraph_status_robust (lock "
         ".pypipegraph_status_robust.lock, pid <pid>). Wait for it to finish; two runs in one "
         "directory would overwrite each other's outputs."],
    50: ["ppg log: unknown job unknown_job (not in the store)",
         "ppg status: no status store .pypipegraph_status_robust here: run the pipeline first (or pass "
         "--store)"],
    51: ["Future('classify#<hash>') is not a value (==): a work function call only schedules the work. "
         "Pass the future to another work function, which gets its value when it runs, or read "
         "future.value() after ppg.run_pipegraph().",
         "Future('classify#<hash>') is not a value (format()): a work function call only schedules the "
         "work. Pass the future to another work function, which gets its value when it runs, or read "
         "future.value() after ppg.run_pipegraph()."],
    52: ["Future('classify#<hash>') has no value yet: call ppg.run_pipegraph() first; value() reads the "
         "stored result afterwards.",
         "Future('analyze#<hash>') has no value: its job failed (Indirect); see the error "
         "ppg.run_pipegraph() raised."],
    53: ["work function classify: missing a required argument: 'sample'",
         "work function classify: its arguments identify the call and must be picklable: cannot "
         "fingerprint a value of type lock: cannot pickle '_thread.lock' object. Pass a picklable value "
         "(or a repr-able summary of it).",
         "work function analyze: the argument Future('classify#<hash>') is where calls do not look for "
         "futures. Futures are found in lists, tuples, sets and dict values; not in dict keys, other "
         "containers or objects.",
         "work function analyze: the argument Future('classify#<hash>') belongs to an earlier pipegraph. "
         "Futures live in the graph they were made in: make that call again after ppg.new_pipegraph()."],
    54: ["lengths#<hash>: the result of lengths (generator) cannot be pickled into the cache file: "
         "cannot pickle 'generator' object"],
    55: ["The work function classify was called inside a running job. Work functions build the graph: "
         "call them in the script (or in a JobGeneratingJob's callback, or in a work function declared "
         "with @ppg.work(nests=True)), or call the plain function classify.function(...) to compute "
         "inline."],
    56: ["CommandJob 'out/a.bam': cmd[3] is int 4; every item of the list must be a str (write '4').",
         "CommandJob 'out/a.txt': cmd must be a str (run by the shell) or a list of str (the program and "
         "its arguments), got NoneType None"],
    57: ["CommandJob 'out/a.bam': env must map str to str; env['THREADS'] is int 4 (write '4').",
         "CommandJob 'out/a.bam': env must be a dict of str to str, got list ['THREADS=4']"],
    58: ["CommandJob: output_files is empty; a command job must declare the file(s) its command writes "
         "(the engine checks and hashes them)."],
    59: ["CommandJob 'out/a.bam': the command `echo 'no index for in.bam' >&2; exit 3` exited with code 3 "
         "(ok_returncodes: 0).\nLast lines of logs/jobs/out_a.bam/stderr:\n  no index for in.bam",
         "CommandJob 'out/b.bam': cannot run `samtoolz sort in.bam`: the program 'samtoolz' was not found. "
         "Install it, or give its full path (PATH is searched when the name has no '/').",
         "CommandJob 'out/c.bam': the command `echo 'out of memory' >&2; kill -9 $$` was killed by signal "
         "SIGKILL.\nLast lines of logs/jobs/out_c.bam/stderr:\n  out of memory",
         "CommandJob 'out/d.bai:out/d.bam': the command `touch out/d.bam` exited with code 0 but did not "
         "write out/d.bai. The command must write every declared output.\nIt wrote nothing to stderr."],
    60: ["CommandJob 'out_a.txt': its log directory logs/jobs/out_a.txt is already used by CommandJob "
         "'out/a.txt'. Rename one of their output files."],
    61: ["out/a.txt needs 1 unit(s) of resource 'db_connections', which the graph does not declare "
         "(declared: none). Declare it: ppg.new_pipegraph(resources={'db_connections': N}).",
         "out/a.txt needs 3 unit(s) of resource 'db_connections', but only 2 exist; it could never run. "
         "Lower the request or raise the count in new_pipegraph(resources=...)."],
    62: ["resources must be a dict of name -> count, e.g. {'db_connections': 4}; got list",
         "resources: the count of 'db_connections' must be a positive int; got 0"],
    63: ["out/a.txt: needs('db_connections', ...) takes a positive int; got 0",
         "out/a.txt: priority must be a number (higher runs first); got 'urgent'"],
    64: ["it is a symbolic link (to '<file>'); remove the link and run again",
         "it has 2 hard links; remove it and run again"],
    65: ["pypipegraph: warning: logging failed: could not write logs/ppg_run.txt (Is a directory); "
         "the run went on without it",
         "pypipegraph: warning: not logging to logs/mine.log: it is a symbolic link"],
    66: ["pypipegraph: warning: not streaming the log to <file>: <file> has mode 0777: group or "
         "others have access (chmod 700 it)",
         "pypipegraph: warning: not streaming the log to <file>: <file> is owned by uid <pid>, not "
         "by you (uid <pid>)"],
    67: ["log socket 'localhost:5005': give the path of a Unix socket (with a '/', e.g. ./log.sock) "
         "or 1 for the default one; TCP host:port is not supported (any local user could listen on "
         "it first or write into it)"],
    68: ["MultiFileInvariant takes a list (or at least an iterable) of filenames, not the single string 'reads.fa'",
         "MultiFileInvariant: filenames was not iterable (5); pass a list of filenames",
         "MultiFileInvariant: Duplicated filenames in ['exists.txt', 'exists.txt']; list each file once",
         "MultiFileInvariant: filenames was empty; list at least one file",
         "MultiFileInvariant: File did not exist: reads.fa. Input files must exist when the invariant is defined."],
    69: ["FileChecksumInvariant 'a': This is probably not the filename you intend to use (file invariant ids "
         "must be at least 3 characters)."],
    70: ["ParameterInvariant 'PIfilter' defined twice with different accept_as_unchanged_func; pass the same "
         "function (one defined once, not a new lambda)."],
    71: ["CachedDataLoadingJob: cache_filename must be a str or pathlib.Path, got int 5"],
    72: ["NotebookJob('analysis.ipynb') is not supported: pypipegraph 0.197's version ran the notebook through a "
         "conversion tool that is no longer available. Run the notebook from a FileGeneratingJob instead, e.g. "
         "with `jupyter nbconvert --execute --to html` via subprocess."],
    73: ["JobList takes only jobs; got str 'out/b'"],
    74: ["out/a.txt: depends_on(count_reads): a function passed to depends_on is called without "
         "arguments just before the run and must return the jobs to depend on; this one needs 1 "
         "argument(s). To rerun out/a.txt when the function's code changes, use depends_on_func(name, "
         "function); to depend on the job that runs it, pass that job."],
    75: ["[Errno 2] No such file or directory (the output directory results/2024 does not exist; "
         "pypipegraph does not create output directories: create it before ppg.run_pipegraph(), e.g. "
         "os.makedirs('results/2024', exist_ok=True)): 'results/2024/a.txt'"],
    76: ["the store key <file> is not private (the file has mode 644), so values signed with it prove "
         "nothing. Make it yours alone (chmod 600 <file>; chmod 700 <dir>) or delete it (a new one is "
         "made; stored Python values then count as changed once)."],
}

_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def fill(template: str, *values) -> str:
    """The template with its placeholders replaced, in order, by `values`."""
    remaining = list(values)
    text = _PLACEHOLDER.sub(lambda _: str(remaining.pop(0)), template)
    assert not remaining, "more values than placeholders"
    return text


def check_text(text: str, template: str, values: tuple) -> None:
    """`text` is the template filled with `values` (or, with no values, any filling)."""
    if values or not _PLACEHOLDER.search(template):
        assert text == fill(template, *values)
    else:
        pattern = "".join(
            ".+?" if _PLACEHOLDER.fullmatch(part) else re.escape(part)
            for part in re.split(f"({_PLACEHOLDER.pattern})", template)
        )
        assert re.fullmatch(pattern, text, re.S), text


@contextmanager
def raises(cls, template: str, *values):
    """The block raises exactly `cls` with the message `template` (filled with `values`)."""
    with pytest.raises(cls) as info:
        yield info
    assert type(info.value) is cls, repr(info.value)
    check_text(str(info.value), template, values)


def run_fails(job_id: str, cls, template: str, *values, reason: str = "Exception"):
    """Run the graph: `job_id` fails during the run with `cls` and the message; returns the job."""
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run_pipegraph()
    job = ppg.util.global_pipegraph.jobs[job_id]
    assert job.failed
    assert type(job.exception) is cls, repr(job.exception)
    check_text(str(job.exception), template, values)
    assert job.error_reason == (str(job.exception) if reason == "message" else reason)
    assert f"\n  {job_id}: {cls.__name__}: {job.exception}\n" in str(info.value)
    return job


# --- callbacks used by the cases ------------------------------------------------


def writer(of):
    Path(of).write_text("x")


def write_both(filenames):
    for name in filenames:
        Path(name).write_text("x")


def fg(filename):
    return ppg.FileGeneratingJob(filename, writer)


def make_report():
    """Returns nothing: passing make_report() instead of make_report is case 2."""


def load_genome(data):
    data["seq"] = "ACGT"


def combine(a, b):
    pass


class Stats:
    def __repr__(self):
        return "Stats()"


class ParseError(Exception):
    def __init__(self, line, reason):
        super().__init__(f"line {line}: {reason}")


# --- defining jobs (at the call) ------------------------------------------------


@pytest.mark.parametrize("variant", [0, 1])
def test_01_job_id_not_a_str(new_pipegraph, variant):
    with raises(TypeError, M[1][variant]):
        if variant == 0:
            ppg.FileGeneratingJob(5, writer)
        else:
            ppg.DataLoadingJob(None, make_report)


@pytest.mark.parametrize("variant", [0, 1])
def test_02_callback_not_callable(new_pipegraph, variant):
    with raises(ValueError, M[2][variant]):
        if variant == 0:
            ppg.FileGeneratingJob("out/report.txt", make_report())
        else:
            ppg.DataLoadingJob("genome", make_report())
    assert not ppg.util.global_pipegraph.jobs


def test_03_output_callback_with_two_arguments(new_pipegraph):
    with raises(TypeError, M[3][0], combine.__module__):
        ppg.FileGeneratingJob("out/ab.txt", combine)


def test_04_loader_callback_with_an_argument(new_pipegraph):
    with raises(TypeError, M[4][0]):
        ppg.DataLoadingJob("genome", load_genome)
    assert "genome" not in ppg.util.global_pipegraph.jobs


@pytest.mark.parametrize("variant, cls", [(0, ValueError), (1, TypeError)])
def test_05_multi_file_job_without_a_list(new_pipegraph, variant, cls):
    with raises(cls, M[5][variant]):
        ppg.MultiFileGeneratingJob("out/a.txt" if variant == 0 else Path("out/a.txt"), write_both)


def test_06_two_jobs_write_one_file(new_pipegraph):
    fg("out/a.txt")
    with raises(ValueError, M[6][0]):
        ppg.MultiFileGeneratingJob(["out/a.txt", "out/b.txt"], write_both)


def test_07_same_id_another_class(new_pipegraph):
    fg("out/a.txt")
    with raises(ppg.JobContractError, M[7][0]):
        ppg.TempFileGeneratingJob("out/a.txt", writer)


def test_08_same_id_another_function(new_pipegraph):
    ppg.FileGeneratingJob("out/a.txt", lambda of: Path(of).write_text("v1") and None)
    with raises(ValueError, M[8][0]):
        ppg.FileGeneratingJob("out/a.txt", lambda of: Path(of).write_text("v2") and None)


def test_09_same_id_other_parameters(new_pipegraph):
    ppg.ParameterInvariant("filter", {"k": 3})
    with raises(ValueError, M[9][0]):
        ppg.ParameterInvariant("filter", {"k": 4})


@pytest.mark.parametrize("variant", [0, 1])
def test_10_file_invariant_on_a_file_a_job_writes(new_pipegraph, variant):
    if variant == 0:
        fg("out/a.txt")
        with raises(ppg.JobContractError, M[10][0]):
            fg("out/b.txt").depends_on(ppg.FileInvariant("out/a.txt"))
    else:
        fg("out/b.txt").depends_on(ppg.FileInvariant("out/a.txt"))
        with raises(ppg.JobContractError, M[10][1]):
            fg("out/a.txt")


def test_11_attribute_name_not_a_str(new_pipegraph):
    stats = Stats()
    with raises(ValueError, M[11][0]):
        ppg.AttributeLoadingJob("lengths", "lengths", stats, lambda: [1, 2])


def test_12_plot_job_wrong_suffix(new_pipegraph):
    with raises(ValueError, M[12][0]):
        ppg.PlotJob("out/squares.jpg", lambda: None, lambda df: None)


@pytest.mark.parametrize("variant", [0, 1])
def test_13_cached_job_another_function(new_pipegraph, variant):
    stats = Stats()
    if variant == 0:
        ppg.CachedAttributeLoadingJob("cache/lengths.pickle", stats, "lengths", lambda: [1, 2])
        with raises(ValueError, M[13][0]):
            ppg.CachedAttributeLoadingJob("cache/lengths.pickle", stats, "lengths", lambda: [3, 4])
    else:
        ppg.CachedDataLoadingJob("cache/lengths.pickle", line_lengths, print)
        with raises(ValueError, M[13][1]):
            ppg.CachedDataLoadingJob("cache/lengths.pickle", line_lengths, repr)


def test_14_cores_needed_invalid(new_pipegraph):
    job = fg("out/a.txt")
    with raises(ValueError, M[14][0]):
        job.cores_needed = 0
    assert job.cores_needed == 1


def test_15_memory_needed_invalid(new_pipegraph):
    job = fg("out/a.txt")
    with raises(ValueError, M[15][0]):
        job.memory_needed = "4GB"
    assert job.memory_needed == -1


def smooth(values):
    return values


def test_16_two_functions_one_function_invariant_id(new_pipegraph):
    def smooth_v2(values):
        return values[1:]

    fg("out/a.txt").depends_on(ppg.FunctionInvariant("smooth", smooth))
    with raises(ppg.JobContractError, M[16][0], smooth.__module__):
        fg("out/b.txt").depends_on(ppg.FunctionInvariant("smooth", smooth_v2))


def test_17_unpicklable_parameters(new_pipegraph):
    lock = threading.Lock()
    fg("out/a.txt").depends_on(ppg.ParameterInvariant("filter", {"k": 3, "lock": lock}))  # accepted
    with pytest.raises(TypeError) as info:  # pickle's own error, as in pypipegraph 0.197
        ppg.run_pipegraph()
    check_text(info.value.__notes__[0], M[17][0], ())
    assert not os.path.exists("out/a.txt")


# --- dependencies -----------------------------------------------------------------


@pytest.mark.parametrize("variant", [0, 1])
def test_18_depends_on_a_filename_or_an_int(new_pipegraph, variant):
    job = fg("out/a.txt")
    with raises(ValueError, M[18][variant]):
        job.depends_on("reads.fa" if variant == 0 else 3)
    assert not job.prerequisites


def test_19_depends_on_file_with_a_list(new_pipegraph):
    with raises(TypeError, M[19][0]):
        fg("out/a.txt").depends_on_file(["a.fa", "b.fa"])


def test_20_placeholder_returns_a_non_job(new_pipegraph):
    fg("out/a.txt").depends_on(lambda: "out/b.txt")  # accepted: resolved at run()
    with raises(ValueError, M[20][0]):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")
    assert not os.path.exists(STORE)


def test_21_self_dependency(new_pipegraph):
    job = fg("out/a.txt")
    with raises(ppg.CycleError, M[21][0]) as info:
        job.depends_on(job)
    assert info.value.cycle == ["out/a.txt"]


def test_22_two_job_cycle(new_pipegraph):
    a, b = fg("out/a.txt"), fg("out/b.txt")
    a.depends_on(b)
    with raises(ppg.CycleError, M[22][0]):
        b.depends_on(a)


def here() -> int:
    return sys._getframe(1).f_lineno


def test_23_longer_cycle_at_run(new_pipegraph):
    a, b, c = fg("out/a.txt"), fg("out/b.txt"), fg("out/c.txt")
    lines = [here() + 1, here() + 2, here() + 3]
    a.depends_on(b)
    b.depends_on(c)
    c.depends_on(a)  # accepted: longer cycles are found at run()
    site = [__file__, lines[0], __file__, lines[2], __file__, lines[1]]
    with raises(ppg.CycleError, M[23][0], *site) as info:
        ppg.run_pipegraph()
    assert info.value.cycle == ["out/b.txt", "out/a.txt", "out/c.txt"]
    assert not os.path.exists(STORE)


def test_24_job_of_an_earlier_graph(new_pipegraph):
    a = fg("out/a.txt")
    new_pipegraph.new_pipegraph()
    with raises(ppg.JobContractError, M[24][0]):
        fg("out/b.txt").depends_on(a)


def test_25_invariant_with_a_dependency(new_pipegraph):
    with raises(ppg.JobContractError, M[25][0]):
        ppg.ParameterInvariant("threshold", 0.5).depends_on(fg("out/a.txt"))


@pytest.mark.parametrize("variant", [0, 1])
def test_26_final_job_in_a_dependency(new_pipegraph, variant):
    final = ppg.FinalJob("summary", lambda: None)
    job = fg("out/a.txt")
    with raises(ppg.JobContractError, M[26][variant]):
        if variant == 0:
            final.depends_on(job)
        else:
            job.depends_on(final)


# --- the graph's lifecycle -------------------------------------------------------


@pytest.mark.parametrize("variant", [0, 1])
def test_27_no_graph(new_pipegraph, variant):
    ppg.util.global_pipegraph = None
    with raises(ValueError, M[27][variant]):
        if variant == 0:
            fg("out/a.txt")
        else:
            ppg.run_pipegraph()


def test_28_job_after_run(new_pipegraph):
    fg("out/a.txt")
    ppg.run_pipegraph()
    with raises(ValueError, M[28][0]):
        fg("out/b.txt")


def test_29_second_run(new_pipegraph):
    fg("out/a.txt")
    ppg.run_pipegraph()
    with raises(ValueError, M[29][0]):
        ppg.run_pipegraph()


# --- output jobs' callbacks (during the run) ---------------------------------------


def test_30_callback_does_not_write_its_output(new_pipegraph):
    def summarize(of):
        text = "3 samples"  # noqa: F841 - the mistake: never written
    ppg.FileGeneratingJob("out/a.txt", summarize)
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run_pipegraph()
    assert str(info.value) == M[30][1]
    job = ppg.util.global_pipegraph.jobs["out/a.txt"]
    assert type(job.exception) is ppg.JobContractError
    assert str(job.exception) == M[30][0]
    assert info.value.exceptions == [job.exception]


def test_31_callback_writes_an_empty_file(new_pipegraph):
    ppg.FileGeneratingJob("out/a.txt", lambda of: Path(of).write_text(""))
    run_fails("out/a.txt", ppg.JobContractError, M[31][0])
    assert not os.path.exists("out/a.txt")  # the empty output is removed


def test_32_lambda_in_a_loop_late_binding(new_pipegraph):
    for i in range(2):
        ppg.FileGeneratingJob(f"out/{i}.txt", lambda: Path(f"out/{i}.txt").write_text("x") and None)  # noqa: B023
    run_fails("out/0.txt", ppg.JobContractError, M[32][0])
    assert not ppg.util.global_pipegraph.jobs["out/1.txt"].failed
    assert sorted(os.listdir("out")) == ["1.txt"]


def test_33_sys_exit_in_a_callback(new_pipegraph):
    def count(of):
        sys.exit("no reads found")
    ppg.FileGeneratingJob("out/a.txt", count)
    job = run_fails("out/a.txt", ppg.JobDiedException, M[33][0], reason="Died: " + M[33][0])
    assert job.exception.exit_code == 1


def test_34_file_invariant_on_a_missing_file(new_pipegraph):
    job = fg("out/a.txt").depends_on(ppg.FileInvariant("reads.fa"))
    with pytest.raises(FileNotFoundError) as info:  # escapes run_pipegraph(), as in 0.197
        ppg.run_pipegraph()
    check_text(str(info.value), M[34][0], ())
    assert not job.was_run and not job.failed


@pytest.mark.parametrize("variant", [0, 1])
def test_35_more_than_the_machine_has(new_pipegraph, variant):
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(max_cores_to_use=2))
    job = fg("out/a.txt")
    if variant == 0:
        job.cores_needed = 3
    else:
        job.memory_needed = 1 << 60
    job = run_fails("out/a.txt", ResourceError, M[35][variant], reason="Needed to much memory/cores")
    assert not job.was_run


# --- loaders and caches ----------------------------------------------------------


def test_36_loader_creates_a_job(new_pipegraph):
    def load():
        ppg.FileGeneratingJob("out/extra.txt", writer)
    loader = ppg.DataLoadingJob("genome", load)
    fg("out/a.txt").depends_on(loader)
    run_fails("genome", ppg.JobContractError, M[36][0])
    assert "out/extra.txt" not in ppg.util.global_pipegraph.jobs


def lengths_job(stats, calc):
    cached = ppg.CachedAttributeLoadingJob("cache/lengths.pickle", stats, "lengths", calc)
    ppg.FileGeneratingJob("out/mean.txt", lambda of: Path(of).write_text(str(stats.lengths)) and None
                          ).depends_on(cached)
    return cached


def line_lengths():
    return [3, 4, 5]


def test_37_cache_file_in_a_missing_directory(new_pipegraph):
    stats = Stats()
    lengths_job(stats, line_lengths)  # there is no cache/ directory
    run_fails("cache/lengths.pickle", FileNotFoundError, M[37][0])
    jobs = ppg.util.global_pipegraph.jobs
    assert jobs["cache/lengths.pickle_load"].error_reason == jobs["out/mean.txt"].error_reason == "Indirect"


def test_38_calc_result_cannot_be_pickled(new_pipegraph):
    os.mkdir("cache")
    lengths_job(Stats(), lambda: (len(line) for line in ["a", "bb"]))
    run_fails("cache/lengths.pickle", ppg.JobContractError, M[38][0])
    assert not os.path.exists("cache/lengths.pickle")


def test_39_unreadable_cache_file(new_pipegraph):
    os.mkdir("cache")
    stats = Stats()
    lengths_job(stats, line_lengths)
    ppg.run_pipegraph()
    # damaged behind the engine's back: same size and mtime, so it is not rehashed
    cache = Path("cache/lengths.pickle")
    st = cache.stat()
    cache.write_bytes(b"\0" * st.st_size)
    os.utime(cache, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink("out/mean.txt")
    new_pipegraph.new_pipegraph()
    lengths_job(stats, line_lengths)
    run_fails("cache/lengths.pickle_load", ppg.JobContractError, M[39][0])


def test_40_cached_result_does_not_unpickle(new_pipegraph):
    import copyreg

    # Importing distributed (tests/test_dask.py) installs tblib's exception pickling for
    # every exception class defined by then, which would make ParseError unpickle fine.
    copyreg.dispatch_table.pop(ParseError, None)
    os.mkdir("cache")
    stats = Stats()
    cached = ppg.CachedAttributeLoadingJob("cache/errors.pickle", stats, "errors",
                                           lambda: [ParseError(3, "no header")])
    fg("out/a.txt").depends_on(cached)
    run_fails("cache/errors.pickle_load", ppg.JobContractError, M[40][0])
    assert os.path.exists("cache/errors.pickle")  # written fine; loading it fails


# --- jobs that change the graph -----------------------------------------------------


def test_41_generator_adds_a_dependency_to_an_existing_job(new_pipegraph):
    summary = fg("out/summary.txt")

    def make_reports():
        summary.depends_on(fg("out/report_a.txt"))
    ppg.JobGeneratingJob("reports", make_reports)
    run_fails("reports", ppg.JobContractError, M[41][0])
    assert "out/report_a.txt" not in ppg.util.global_pipegraph.jobs


@pytest.mark.parametrize("variant", [0, 1])
def test_42_two_generators_one_id(new_pipegraph, variant):
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(max_cores_to_use=2))
    gen1 = ppg.JobGeneratingJob("gen1", lambda: ppg.FileGeneratingJob(
        "out/x.txt", lambda of: Path(of).write_text("1") and None) and None)
    gen2 = ppg.JobGeneratingJob("gen2", lambda: ppg.FileGeneratingJob(
        "out/x.txt", lambda of: Path(of).write_text("2") and None) and None)
    if variant == 1:
        gen2.depends_on(gen1)  # gen2's callback runs when gen1's job is in the graph: case 8
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run_pipegraph()
    (failed,) = info.value.failed_jobs  # the generator that runs second (in the master)
    if variant == 1:
        assert failed.job_id == "gen2"
    assert failed.job_id in ("gen1", "gen2")
    assert type(failed.exception) is ValueError
    assert str(failed.exception) == M[42][0]
    assert Path("out/x.txt").read_text() == ("2" if failed.job_id == "gen1" else "1")


def test_43_generated_job_writes_an_existing_jobs_file(new_pipegraph):
    fg("out/a.txt")
    ppg.JobGeneratingJob("gen", lambda: ppg.MultiFileGeneratingJob(
        ["out/a.txt", "out/b.txt"], write_both) and None)
    run_fails("gen", ValueError, M[43][0])
    assert "out/a.txt:out/b.txt" not in ppg.util.global_pipegraph.jobs
    assert not os.path.exists("out/b.txt")


def test_44_generator_captures_something_unpicklable(new_pipegraph):
    lock = threading.Lock()

    def make_jobs():
        def work(of):
            with lock:
                Path(of).write_text("x")
        ppg.FileGeneratingJob("out/x.txt", work)
    gen = ppg.JobGeneratingJob("gen", make_jobs)
    ppg.run_pipegraph()  # the generator runs in the master: nothing is pickled
    assert gen.was_run and Path("out/x.txt").read_text() == "x"


def test_45_injection_into_a_job_that_does_not_depend_on_it(new_pipegraph):
    summary = fg("out/summary.txt")

    def download_pages():
        page = fg("pages/1.html")
        summary.depends_on(page)
        return [page]
    ppg.DependencyInjectionJob("pages", download_pages)  # summary.depends_on(injector) is missing
    run_fails("pages", ppg.JobContractError, M[45][0])


@pytest.mark.parametrize("variant, cls", [(0, ppg.JobContractError), (1, TypeError)])
def test_46_injection_returns_a_non_job(new_pipegraph, variant, cls):
    summary = fg("out/summary.txt")
    returned = "pages/1.html" if variant == 0 else 1
    summary.depends_on(ppg.DependencyInjectionJob("pages", lambda: returned))
    run_fails("pages", cls, M[46][variant])
    assert summary.error_reason == "Indirect"


# --- the status store and the ppg command ----------------------------------------------


def test_47_corrupt_store(new_pipegraph):
    Path(STORE).write_text("this is not a database\n")
    fg("out/a.txt")
    with raises(ppg.StoreError, M[47][0]):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")
    assert Path(STORE).read_text() == "this is not a database\n"


def test_47_sqlite_file_that_is_not_a_store(new_pipegraph):
    with sqlite3.connect(STORE) as conn:
        conn.execute("CREATE TABLE samples (name TEXT)")
    conn.close()
    fg("out/a.txt")
    with raises(ppg.StoreError, M[47][1]):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")


def test_47_empty_store(new_pipegraph):
    Path(STORE).write_bytes(b"")
    fg("out/a.txt")
    with raises(ppg.StoreError, M[47][2]):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")
    assert Path(STORE).stat().st_size == 0


def test_47_read_only_store(new_pipegraph):
    fg("out/a.txt")
    ppg.run_pipegraph()
    os.unlink("out/a.txt")
    os.chmod(STORE, 0o444)
    immutable = os.geteuid() == 0  # root writes read-only files: make it immutable instead
    if immutable and subprocess.run(["chattr", "+i", STORE], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        new_pipegraph.new_pipegraph()
        fg("out/a.txt")
        with raises(ppg.StoreError, M[47][3]):
            ppg.run_pipegraph()
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", STORE], capture_output=True)
    assert not os.path.exists("out/a.txt")


def test_48_store_of_a_newer_version(new_pipegraph):
    fg("out/a.txt")
    ppg.run_pipegraph()
    with sqlite3.connect(STORE) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(FORMAT_VERSION + 1),))
    conn.close()
    os.unlink("out/a.txt")
    new_pipegraph.new_pipegraph()
    fg("out/a.txt")
    with raises(ppg.StoreError, M[48][0], FORMAT_VERSION + 1, FORMAT_VERSION):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")


def test_49_second_run_while_one_holds_the_lock(new_pipegraph):
    holder = History(STORE).open()  # as a running pipeline does (this test's own pid)
    try:
        fg("out/a.txt")
        with raises(ppg.StoreLocked, M[49][0], os.getpid()):
            ppg.run_pipegraph()
    finally:
        holder.close()
    assert not os.path.exists("out/a.txt")


@pytest.mark.parametrize("variant", [0, 1])
def test_50_ppg_command_errors(new_pipegraph, variant):
    if variant == 0:
        fg("out/a.txt")
        ppg.run_pipegraph()
        args = ["log", "unknown_job"]
    else:
        args = ["status"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYPIPEGRAPH_LOG_SOCKET", None)
    done = subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True, text=True,
                          timeout=60, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", M[50][variant] + "\n")


# --- futures (@ppg.work) -------------------------------------------------------------------


@ppg.work
def classify(sample):
    return "tumor" if sample.startswith("t") else "normal"


@ppg.work
def analyze(labels):
    return {label: labels.count(label) for label in set(labels)}


@ppg.work
def lengths(lines):
    return (len(line) for line in lines)


def classify_all(of):
    Path(of).write_text(repr([classify(sample) for sample in ("t1", "n1")]))


def call_hash(future) -> str:
    return future.job_id.split("#")[1]


@pytest.mark.parametrize("variant", [0, 1])
def test_51_a_future_used_as_a_value(new_pipegraph, variant):
    label = classify("t1")
    with raises(TypeError, M[51][variant], call_hash(label)):
        if variant == 0:
            label == "tumor"  # noqa: B015
        else:
            print(f"t1 is {label}")
    assert repr(label) == f"Future('classify#{call_hash(label)}')"


@pytest.mark.parametrize("variant", [0, 1])
def test_52_value_before_the_run_or_of_a_failed_call(new_pipegraph, variant):
    if variant == 0:
        label = classify("t1")
        with raises(ValueError, M[52][0], call_hash(label)):
            label.value()
        return
    report = analyze([classify(1)])
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    with raises(ValueError, M[52][1], call_hash(report)):
        report.value()


@pytest.mark.parametrize("variant", [0, 1, 2, 3])
def test_53_work_function_called_with_wrong_arguments(new_pipegraph, variant):
    if variant < 2:
        with raises(TypeError, M[53][variant]):
            classify() if variant == 0 else classify(threading.Lock())
        assert not ppg.util.global_pipegraph.jobs
        return
    label = classify("t1")
    if variant == 3:
        ppg.run_pipegraph()
        new_pipegraph.new_pipegraph()
    with raises(TypeError if variant == 2 else ValueError, M[53][variant], call_hash(label)):
        analyze({label: "first"} if variant == 2 else [label])
    assert not [job for job in ppg.util.global_pipegraph.jobs if job.startswith("analyze")]


def test_54_work_result_cannot_be_pickled(new_pipegraph):
    future = lengths(["a", "bb"])
    run_fails(future.job_id, ppg.JobContractError, M[54][0], call_hash(future))
    assert not os.path.exists(future.job.filenames[0])


def test_55_work_function_called_inside_a_running_job(new_pipegraph):
    ppg.FileGeneratingJob("out/labels.txt", classify_all)
    run_fails("out/labels.txt", ppg.JobContractError, M[55][0])
# --- command jobs ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", [0, 1])
def test_56_command_not_a_str_or_a_list_of_str(new_pipegraph, variant):
    if variant == 0:
        with raises(TypeError, M[56][0]):
            ppg.CommandJob("out/a.bam", ["samtools", "sort", "-@", 4, "in.bam"])
    else:
        with raises(TypeError, M[56][1]):
            ppg.CommandJob("out/a.txt", None)
    assert not ppg.util.global_pipegraph.jobs


@pytest.mark.parametrize("variant", [0, 1])
def test_57_command_env_not_str_to_str(new_pipegraph, variant):
    env = {"THREADS": 4} if variant == 0 else ["THREADS=4"]
    with raises(TypeError, M[57][variant]):
        ppg.CommandJob("out/a.bam", ["samtools", "sort", "in.bam"], env=env)
    assert not ppg.util.global_pipegraph.jobs


def test_58_command_job_without_outputs(new_pipegraph):
    with raises(ValueError, M[58][0]):
        ppg.CommandJob([], "make all")


def test_59_command_fails(new_pipegraph):
    ppg.CommandJob("out/a.bam", "echo 'no index for in.bam' >&2; exit 3")
    ppg.CommandJob("out/b.bam", ["samtoolz", "sort", "in.bam"])
    ppg.CommandJob("out/c.bam", "echo 'out of memory' >&2; kill -9 $$")
    ppg.CommandJob(["out/d.bam", "out/d.bai"], "touch out/d.bam")
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run_pipegraph()
    jobs = ppg.util.global_pipegraph.jobs
    ids = ["out/a.bam", "out/b.bam", "out/c.bam", "out/d.bai:out/d.bam"]
    for job_id, template in zip(ids, M[59], strict=True):
        job = jobs[job_id]
        assert type(job.exception) is ppg.CommandFailed and job.error_reason == "Exception"
        check_text(str(job.exception), template, ())
        assert f"\n  {job_id}: CommandFailed: {job.exception}" in str(info.value)
    assert [jobs[i].exception.returncode for i in ids] == [3, None, -9, 0]
    assert os.listdir("out") == []


def test_60_two_command_jobs_one_log_directory(new_pipegraph):
    ppg.CommandJob("out/a.txt", "echo a > out/a.txt")
    with raises(ValueError, M[60][0]):
        ppg.CommandJob("out_a.txt", "echo b > out_a.txt")
    assert list(ppg.util.global_pipegraph.jobs) == ["out/a.txt"]


# --- the catalogue shows every message ---------------------------------------------------


def test_doc_shows_every_message():
    sections = {}
    for chunk in DOC.read_text().split("\n### ")[1:]:
        number = re.match(r"(\d+)\. ", chunk)
        assert number, chunk[:60]
        sections[int(number.group(1))] = chunk
    assert sorted(sections) == list(range(1, len(sections) + 1)), "cases are numbered 1..N"
    assert sorted(sections) == sorted(M), "one entry of M per case in docs/errors.md"
    tests = {int(name.split("_")[1]) for name in globals() if re.match(r"test_\d\d_", name)}
    assert tests == set(M), "one test per case"
    for number, templates in M.items():
        for template in templates:
            assert f"```\n{template}\n```" in sections[number], (number, template)


# --- limits and priorities -----------------------------------------------------------------


def _query(of):
    Path(of).write_text("rows")


@pytest.mark.parametrize("variant", [0, 1])
def test_61_resource_not_declared_or_too_small(new_pipegraph, variant):
    if variant == 0:
        job = ppg.FileGeneratingJob("out/a.txt", _query).needs("db_connections")
    else:
        new_pipegraph.new_pipegraph(resources={"db_connections": 2})
        job = ppg.FileGeneratingJob("out/a.txt", _query).needs("db_connections", 3)
    with raises(ppg.ResourceError, M[61][variant]):
        ppg.run_pipegraph()
    assert not job.was_run and not Path("out/a.txt").exists()


@pytest.mark.parametrize("variant", [0, 1])
def test_62_malformed_resources(new_pipegraph, variant):
    with raises(ValueError, M[62][variant]):
        ppg.new_pipegraph(resources=[["db_connections"], {"db_connections": 0}][variant])


@pytest.mark.parametrize("variant", [0, 1])
def test_63_malformed_needs_or_priority(new_pipegraph, variant):
    job = ppg.FileGeneratingJob("out/a.txt", _query)
    with raises(ValueError, M[63][variant]):
        if variant == 0:
            job.needs("db_connections", 0)
        else:
            job.priority = "urgent"


# --- files, logs and the log socket ---------------------------------------------------------


@pytest.mark.parametrize("variant", [0, 1])
def test_64_a_link_planted_at_the_lock_file(ppg_dir, tmp_path_factory, variant):
    from pypipegraph.plumbing.safe_files import open_lock_file

    yours = tmp_path_factory.mktemp("home") / "yours.txt"
    yours.write_text("yours")
    (os.symlink if variant == 0 else os.link)(yours, STORE + ".lock")
    with raises(OSError, M[64][variant]):
        open_lock_file(STORE + ".lock")
    assert yours.read_text() == "yours"


@pytest.mark.parametrize("variant", [0, 1])
def test_65_logs_cannot_be_written(new_pipegraph, capfd, variant):
    if variant == 0:
        os.mkdir("logs/ppg_run.txt")
    else:
        os.symlink("elsewhere.log", "logs/mine.log")
        new_pipegraph.new_pipegraph(log_file="logs/mine.log")
    ppg.FileGeneratingJob("out/a.txt", _query)
    ppg.run_pipegraph()
    assert Path("out/a.txt").read_text() == "rows"
    assert capfd.readouterr().err == M[65][variant] + "\n"
    assert not Path("elsewhere.log").exists()


@pytest.mark.parametrize("variant", [0, 1])
def test_66_a_log_socket_that_is_not_private(new_pipegraph, capfd, variant):
    if variant == 1 and os.getuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    Path("shared").mkdir(mode=0o700)
    os.chmod("shared", 0o777) if variant == 0 else os.chown("shared", 65534, 65534)
    new_pipegraph.new_pipegraph(log_socket="shared/log.sock")
    ppg.FileGeneratingJob("out/a.txt", _query)
    ppg.run_pipegraph()
    assert Path("out/a.txt").read_text() == "rows"
    here = os.path.abspath("shared")
    values = (f"{here}/log.sock", here) + (() if variant == 0 else ("65534", str(os.getuid())))
    check_text(capfd.readouterr().err, M[66][variant] + "\n", values)


def test_67_a_tcp_address_as_log_socket(ppg_dir):
    with raises(ValueError, M[67][0]):
        ppg.new_pipegraph(log_socket="localhost:5005")
# --- 0.197's argument checks ---------------------------------------------------------


@pytest.mark.parametrize("variant", range(5))
def test_68_multi_file_invariant_arguments(new_pipegraph, variant):
    Path("exists.txt").write_text("x")
    argument = ["reads.fa", 5, ["exists.txt", "exists.txt"], [], ["exists.txt", "reads.fa"]][variant]
    with raises(TypeError if variant < 2 else ValueError, M[68][variant]):
        ppg.MultiFileInvariant(argument)


def test_69_short_file_invariant_name(new_pipegraph):
    with raises(ValueError, M[69][0]):
        ppg.FileInvariant("a")


def test_70_parameter_invariant_other_accept_func(new_pipegraph):
    ppg.ParameterInvariant("filter", 3, lambda old: True)
    with raises(ValueError, M[70][0]):
        ppg.ParameterInvariant("filter", 3, lambda old: True)


def test_71_cache_file_name_not_a_path(new_pipegraph):
    with raises(TypeError, M[71][0]):
        ppg.CachedDataLoadingJob(5, line_lengths, print)


def test_72_notebook_job(new_pipegraph):
    with raises(NotImplementedError, M[72][0]):
        ppg.NotebookJob("analysis.ipynb")


def test_73_job_list_with_a_non_job(new_pipegraph):
    job_a = fg("out/a.txt")
    with raises(ValueError, M[73][0]):
        ppg.JobList([job_a, "out/b"])

def count_reads(of):
    Path(of).write_text("reads")


def test_74_depends_on_a_function_that_takes_arguments(new_pipegraph):
    job = fg("out/a.txt")
    with raises(ValueError, M[74][0]):
        job.depends_on(count_reads)
    assert not job.prerequisites


def test_75_output_directory_does_not_exist(new_pipegraph):
    fg("results/2024/a.txt")
    run_fails("results/2024/a.txt", FileNotFoundError, M[75][0])
    assert not os.path.exists("results")

# --- the store key -------------------------------------------------------------------------


class _NotPlain:
    """A parameter that is not plain data: kept as a pickle signed with the store key."""

    def __init__(self, value):
        self.value = value


def test_76_store_key_others_can_read(new_pipegraph, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    from pypipegraph.store import key as store_key
    store_key._keys.clear()
    try:
        fg("out/a.txt").depends_on(ppg.ParameterInvariant("a", _NotPlain(1), lambda old: True))
        ppg.run_pipegraph()
        key = store_key.key_path()
        os.chmod(key, 0o644)
        store_key._keys.clear()
        new_pipegraph.new_pipegraph()
        fg("out/a.txt").depends_on(ppg.ParameterInvariant("a", _NotPlain(2), lambda old: True))
        with raises(ppg.StoreError, M[76][0], key, key, os.path.dirname(key)):  # escapes, as in 0.197
            ppg.run_pipegraph()
    finally:
        store_key._keys.clear()
