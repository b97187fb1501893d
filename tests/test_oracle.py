"""Property-based oracle test: random job graphs and edits, engine vs. a reference model.

Hypothesis generates a DAG (FileGeneratingJob, MultiFileGeneratingJob,
TempFileGeneratingJob, DataLoadingJob; FileInvariant, ParameterInvariant and
FunctionInvariant inputs; 1-40 nodes) and steps of 1-3 edits each: an input file
changed or only touched, a parameter changed (or a dict parameter reordered), a job's
function changed with a new output, with the same output, or only reformatted, an
explicit FunctionInvariant changed, a module-level constant a job reads through a
helper changed, a module-level helper rebound to other code (or to the same code
reformatted), an output deleted / overwritten / touched, a dependency added or removed,
a job added, removed or re-added. The engine runs after
the first build, after every step and once more without edits, and

  (a) the set of jobs with `was_run` must equal what tests/oracle_model.py derives from
      the documented rules (docs/rerun-decisions.md, jobs-in-memory.md,
      jobs-temp-files.md), early cutoff included; each callback runs at most once per
      run, exactly for the jobs with `was_run`; the run must not fail;
  (b) every file under in/, out/ and tmp/ must be what the model expects (temp files
      gone, outputs of removed jobs untouched), and every output file what a
      from-scratch build of the current graph writes.

Every job's behaviour is data: a spec (salt, transform, noop) passed as default
arguments, so changing it changes the job's FunctionInvariant; `noop` changes the
fingerprint but not the output. Jobs read their inputs through module-level
registries (forked workers see the master's memory), so a job depends only on what
it declares. A job's `hook` makes its callback read module state one or two levels
down (ORACLE_CONST, an entry of ORACLE_TABLE, the helper oracle_helper; see R1b in
oracle_model.py); edits rebind those globals before the next graph is built. A mismatch prints the scenario as readable steps, the engine's reasons
and logs/ppg_run.txt; hypothesis shrinks it first.

PPG_ORACLE_EXAMPLES=10000 python -m pytest tests/test_oracle.py   # the long version
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle_model import (
    CONST_VALUES,
    HELPER_VERSIONS,
    HOOKS,
    KINDS,
    TABLE_SIZE,
    TABLE_VALUES,
    TRANSFORMS,
    World,
    param_text,
    render,
    render_b,
)

import pypipegraph as ppg

# --- registries read by the callbacks (set in the master before the run) -------------

INPUTS: dict = {}  # job id -> [(input job id, kind, key)] sorted by input id
PARAMS: dict = {}  # "pN" -> value
FUNCS: dict = {}  # "fnN" -> function
DATA: dict = {}  # "loadN" -> what the loader computed (set in the master during the run)
RUNS_LOG = "runs.log"  # one line per callback execution (workers and master append)


def read_input(kind: str, key: str) -> str:
    if kind in ("file", "fg", "mfg", "temp"):
        return Path(key).read_text()
    if kind == "param":
        return param_text(PARAMS[key])
    if kind == "func":
        return FUNCS[key]()
    return DATA[key]


def gather(job_id: str) -> list:
    """The values of a job's inputs; also notes in RUNS_LOG that the job ran."""
    with open(RUNS_LOG, "a") as fh:
        fh.write(job_id + "\n")
    return [(dep, read_input(kind, key)) for dep, kind, key in INPUTS[job_id]]


def make_callback(node):
    """A callback whose default arguments carry the spec (so the FunctionInvariant sees it).

    `node.variant` 1 gives the same code reformatted (other line numbers, comments, a
    docstring), which must not count as a change. Jobs with a hook get a callback that
    reads module state through helpers (variant does not apply to them).
    """
    if node.hook != "none":
        return hooked_callback(node.hook, node.kind, node.spec, node.job_id, tuple(node.outputs), node.key,
                               node.slot)
    factory = reformatted_callback if node.variant else plain_callback
    return factory(node.kind, node.spec, node.job_id, tuple(node.outputs), node.key)


# --- module state the hooked callbacks read (rebound by set_module_state) -------------

ORACLE_CONST = CONST_VALUES[0]  # immutable: its value counts in the readers' fingerprints
ORACLE_TABLE = TABLE_VALUES[:TABLE_SIZE]  # a tuple constant; each "table" job reads one entry


def with_const(text):
    return text + "+" + ORACLE_CONST


def check_const(text):
    """Reads ORACLE_CONST without showing it: a change reruns, the output stays (cutoff)."""
    if not isinstance(ORACLE_CONST, str):
        raise TypeError(ORACLE_CONST)
    return text


def with_entry(text, slot):
    return text + "/" + ORACLE_TABLE[slot]


def with_helper(text):
    """Two levels down: the job calls this, this calls whatever oracle_helper is now."""
    return oracle_helper(text)


def helper_plain(text):
    return text


def helper_plain_reformatted(text):
    """The same code as helper_plain: docstring, comments and layout do not count."""
    # nothing to add
    return (
        text
    )


def helper_copy(text):
    return text[:]  # other code, same result


def helper_bang(text):
    return text + "!"


def helper_tilde(text):
    return text + "~" + "h"


HELPERS = (helper_plain, helper_plain_reformatted, helper_copy, helper_bang, helper_tilde)
assert len(HELPERS) == len(HELPER_VERSIONS)
oracle_helper = helper_plain


def set_module_state(world: World) -> None:
    """Rebind the module globals as the world says (as if the user had edited the file)."""
    global ORACLE_CONST, ORACLE_TABLE, oracle_helper
    ORACLE_CONST = world.const
    ORACLE_TABLE = world.table
    oracle_helper = HELPERS[world.helper]


def emit(kind, outputs, key, spec, values, text):
    """Stores a hooked job's main text (and the second file of an MFG)."""
    if kind == "loader":
        DATA[key] = text
        return
    Path(outputs[0]).write_text(text)
    if kind == "mfg":
        Path(outputs[1]).write_text(render_b(spec, values))


def hooked_callback(hook, kind, spec, job_id, outputs, key, slot):
    if hook == "const":

        def const_job(spec=spec, job_id=job_id, outputs=outputs, key=key, kind=kind):
            values = gather(job_id)
            emit(kind, outputs, key, spec, values, with_const(render(spec, values)))

        return const_job
    if hook == "tag":

        def tag_job(spec=spec, job_id=job_id, outputs=outputs, key=key, kind=kind):
            values = gather(job_id)
            emit(kind, outputs, key, spec, values, check_const(render(spec, values)))

        return tag_job
    if hook == "table":

        def table_job(spec=spec, job_id=job_id, outputs=outputs, key=key, kind=kind, slot=slot):
            values = gather(job_id)
            emit(kind, outputs, key, spec, values, with_entry(render(spec, values), slot))

        return table_job
    assert hook == "helper", hook

    def helper_job(spec=spec, job_id=job_id, outputs=outputs, key=key, kind=kind):
        values = gather(job_id)
        emit(kind, outputs, key, spec, values, with_helper(render(spec, values)))

    return helper_job


def plain_callback(kind, spec, job_id, outputs, key):
    if kind in ("fg", "temp"):

        def write_file(spec=spec, job_id=job_id, outputs=outputs):
            Path(outputs[0]).write_text(render(spec, gather(job_id)))

        return write_file
    if kind == "mfg":

        def write_files(spec=spec, job_id=job_id, outputs=outputs):
            values = gather(job_id)
            Path(outputs[0]).write_text(render(spec, values))
            Path(outputs[1]).write_text(render_b(spec, values))

        return write_files

    def load(spec=spec, job_id=job_id, key=key):
        DATA[key] = render(spec, gather(job_id))

    return load


def reformatted_callback(kind, spec, job_id, outputs, key):
    if kind in ("fg", "temp"):
        def write_file(spec=spec, job_id=job_id, outputs=outputs):
            """Writes the output (a docstring does not count)."""
            # comments do not count either

            Path(outputs[0]).write_text(
                render(spec, gather(job_id))
            )
        return write_file
    if kind == "mfg":
        def write_files(spec=spec, job_id=job_id, outputs=outputs):
            """Writes both outputs."""
            values = gather(job_id)  # read the inputs once
            Path(outputs[0]).write_text(render(spec,
                                               values))
            Path(outputs[1]).write_text(render_b(spec, values))
        return write_files

    def load(spec=spec, job_id=job_id, key=key):
        """Loads into DATA."""
        DATA[key] = render(  # computed in the master
            spec, gather(job_id)
        )
    return load


def make_function(value, noop):
    def function(value=value, noop=noop):
        return value

    return function


def build_graph(world: World) -> ppg.Pipegraph:
    set_module_state(world)  # before the jobs (and their fingerprints) are made
    graph = ppg.new_pipegraph(quiet=True, dump_graph=False)
    INPUTS.clear()
    PARAMS.clear()
    FUNCS.clear()
    DATA.clear()
    jobs = {}
    for node in world.live():
        if node.kind == "file":
            job = ppg.FileInvariant(node.key)
        elif node.kind == "param":
            PARAMS[node.key] = node.value
            job = ppg.ParameterInvariant(node.key, node.value)
        elif node.kind == "func":
            FUNCS[node.key] = make_function(node.value, node.noop)
            job = ppg.FunctionInvariant(node.key, FUNCS[node.key])
        elif node.kind == "fg":
            job = ppg.FileGeneratingJob(node.outputs[0], make_callback(node), empty_ok=node.empty_ok)
        elif node.kind == "mfg":
            job = ppg.MultiFileGeneratingJob(node.outputs, make_callback(node), empty_ok=node.empty_ok)
        elif node.kind == "temp":
            # empty outputs fail a job without empty_ok; the model does not model failures
            job = ppg.TempFileGeneratingJob(node.outputs[0], make_callback(node), empty_ok=True)
        else:
            job = ppg.DataLoadingJob(node.key, make_callback(node))
        assert job.job_id == node.job_id, (job.job_id, node.job_id)
        jobs[node.num] = job
    for node in world.live():
        if node.deps:
            jobs[node.num].depends_on([jobs[d] for d in node.deps])
            INPUTS[node.job_id] = sorted(
                (world.nodes[d].job_id, world.nodes[d].kind, world.nodes[d].key) for d in node.deps
            )
        elif node.kind not in ("file", "param", "func"):
            INPUTS[node.job_id] = []
    return graph


def files_on_disk() -> dict:
    found = {}
    for top in ("in", "out", "tmp"):
        for root, _dirs, names in os.walk(top):
            for name in names:
                path = os.path.join(root, name)
                found[path] = Path(path).read_text()
    return found


def run_and_check(world: World, label: str) -> None:
    world.transcript.append(f"run: {label}")
    prediction = world.predict()
    graph = build_graph(world)
    if os.path.exists(RUNS_LOG):
        os.unlink(RUNS_LOG)
    error = None
    try:
        ppg.run_pipegraph()
    except Exception as exc:  # reported below, with the scenario
        error = exc
    ran = {job_id for job_id, job in graph.jobs.items() if not job.is_invariant and (job.was_run or job.was_loaded)}
    executions = Path(RUNS_LOG).read_text().split() if os.path.exists(RUNS_LOG) else []
    problems = []
    if error is not None:
        problems.append(f"the run raised {type(error).__name__}: {error}")
    for job_id in sorted(set(executions)):
        count = executions.count(job_id)
        if count > 1:
            problems.append(f"{job_id}'s callback ran {count} times in one run")
    for job_id in sorted(set(executions) ^ ran):
        problems.append(f"{job_id}: was_run={job_id in ran}, but its callback ran {executions.count(job_id)} time(s)")
    for job_id in sorted(ran - prediction.ran):
        problems.append(
            f"engine ran {job_id}, the model says it must not; engine's reasons: "
            f"{list(graph.jobs[job_id].run_reasons)}"
        )
    for job_id in sorted(prediction.ran - ran):
        problems.append(
            f"engine did not run {job_id}, the model says it must: {prediction.reasons.get(job_id)}"
        )
    actual = files_on_disk()
    for path in sorted(set(actual) | set(prediction.disk)):
        if actual.get(path) != prediction.disk.get(path):
            problems.append(f"{path}: engine left {actual.get(path)!r}, model expects {prediction.disk.get(path)!r}")
    for path, content in sorted(world.from_scratch().items()):
        if actual.get(path) != content:
            problems.append(f"{path}: {actual.get(path)!r}, a from-scratch build writes {content!r}")
    if problems:
        log = Path("logs/ppg_run.txt").read_text() if os.path.exists("logs/ppg_run.txt") else ""
        raise AssertionError(
            "engine and oracle disagree after '" + label + "':\n  "
            + "\n  ".join(problems)
            + "\n\nscenario so far:\n" + "\n".join(world.transcript)
            + "\n\ncurrent graph:\n" + world.describe_graph()
            + "\n\nengine's logs/ppg_run.txt:\n" + log
        )
    world.commit(prediction)


# --- strategies ----------------------------------------------------------------------

node_specs = st.tuples(
    st.integers(0, len(KINDS) - 1),  # kind
    st.lists(st.integers(0, 63), max_size=4),  # dependency picks
    st.integers(0, 3),  # salt
    st.integers(0, len(TRANSFORMS) - 1),  # transform
    st.integers(0, 11),  # value pick (file content, parameter, function value)
    st.booleans(),  # empty_ok
    st.integers(0, len(HOOKS) - 1),  # hook: module state the callback reads (0: none)
)

EDITS = (
    "change_input",
    "touch_input",
    "change_param",
    "reorder_param",
    "change_function",
    "change_function_same_output",
    "reformat_function",
    "change_function_invariant",
    "change_constant",
    "change_helper",
    "delete_output",
    "tamper_output",
    "touch_output",
    "add_dependency",
    "remove_dependency",
    "add_job",
    "remove_job",
    "readd_job",
    "nothing",
)

edits = st.tuples(st.sampled_from(EDITS), st.integers(0, 1000), st.integers(0, 1000), node_specs)
scenarios = st.tuples(
    st.one_of(  # small graphs shrink well; big ones find more
        st.lists(node_specs, min_size=1, max_size=10),
        st.lists(node_specs, min_size=10, max_size=40),
    ),
    st.lists(st.lists(edits, min_size=1, max_size=3), min_size=1, max_size=8),
)


def run_scenario(initial, steps) -> None:
    world = World()
    for top in ("in", "out", "tmp", "logs"):
        os.mkdir(top)
    world.build_initial(initial)
    run_and_check(world, "first run")
    for i, step in enumerate(steps, 1):
        world.transcript.append(f"step {i}:")
        for edit in step:
            world.apply(edit)
        run_and_check(world, f"step {i}")
    run_and_check(world, "final rerun without edits")


@settings(
    max_examples=int(os.environ.get("PPG_ORACLE_EXAMPLES", "300")),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios)
def test_engine_matches_oracle(scenario):
    initial, steps = scenario
    home = os.getcwd()
    directory = tempfile.mkdtemp(prefix="ppg_oracle_")
    try:
        os.chdir(directory)
        run_scenario(initial, steps)
    finally:
        os.chdir(home)
        shutil.rmtree(directory, ignore_errors=True)
        ppg.util.global_pipegraph = None


# --- the smallest case the oracle found, kept as a plain regression test ----------------


def test_lazy_diamond_runs_each_lazy_job_once(new_pipegraph):
    """in.txt -> tmp/t1 -> tmp/t2 -> out/f, and tmp/t1 -> out/f: t1 runs once per run.

    Whether the engine requested t1 twice depended on the iteration order of a set of
    prerequisites (memory addresses), so the edit-and-rerun is repeated.
    """
    os.mkdir("tmp")

    def make_t1(of):
        with open("t1.count", "a") as fh:
            fh.write("x")
        Path(of).write_text(Path("in.txt").read_text())

    def make_t2(of):
        Path(of).write_text(Path("tmp/t1").read_text() + "2")

    def make_f(of):
        Path(of).write_text(Path("tmp/t1").read_text() + Path("tmp/t2").read_text())

    for i in range(16):
        Path("in.txt").write_text(f"v{i}")
        os.utime("in.txt", ns=(i * 10**9, i * 10**9))
        if i:
            new_pipegraph.new_pipegraph()
        t1 = ppg.TempFileGeneratingJob("tmp/t1", make_t1).depends_on(ppg.FileInvariant("in.txt"))
        t2 = ppg.TempFileGeneratingJob("tmp/t2", make_t2).depends_on(t1)
        ppg.FileGeneratingJob("out/f", make_f).depends_on(t1, t2)
        Path("t1.count").write_text("")
        ppg.run_pipegraph()
        assert Path("out/f").read_text() == f"v{i}v{i}2"
        assert Path("t1.count").read_text() == "x", f"run {i}: tmp/t1 ran {len(Path('t1.count').read_text())} times"
        assert not os.path.exists("tmp/t1") and not os.path.exists("tmp/t2")
