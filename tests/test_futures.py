"""The futures API (@ppg.work, Future): calls are jobs run in forked workers, values are
pickled to the cache folder, and reruns are incremental like every other job."""

import pickle
from pathlib import Path

import cloudpickle
import pytest

import pypipegraph as ppg

from conftest import append, runs


def named(function, name):
    """`function` as a work function called `name`: an edited version of the function `name`."""
    function.__qualname__ = function.__name__ = name
    return ppg.work(function)


def count(name):
    append(f"out/{name}.count", "x")


# --- a small fan-in graph: classify three samples, analyze the results -----------------


def classify_v1(sample):
    count(f"classify_{sample}")
    return "tumor" if sample.startswith("t") else "normal"


def classify_v2(sample):  # same results, other code
    count(f"classify_{sample}")
    return "normal" if not sample.startswith("t") else "tumor"


def classify_v3(sample):  # other results for tumors
    count(f"classify_{sample}")
    return "TUMOR" if sample.startswith("t") else "normal"


def analyze_v1(labels):
    count("analyze")
    return {label: labels.count(label) for label in sorted(set(labels))}


def analyze_v2(labels):
    count("analyze")
    return sorted(labels)


def describe(sample):
    count(f"describe_{sample}")
    return f"sample {sample}"


def fan_in(graphs, classify=classify_v1, analyze=analyze_v1, samples=("t1", "n1", "n2")):
    graphs.new_pipegraph()
    classify = named(classify, "classify")
    analyze = named(analyze, "analyze")
    labels = [classify(sample) for sample in samples]
    report = analyze(labels)
    descriptions = [ppg.work(describe)(sample) for sample in samples]
    ppg.run_pipegraph()
    return labels, report, descriptions


def counts(*names):
    return [runs(f"out/{name}.count") for name in names]


ALL = ("classify_t1", "classify_n1", "classify_n2", "analyze", "describe_t1")


def test_fan_in_values_flow_and_a_rerun_does_nothing(new_pipegraph):
    labels, report, descriptions = fan_in(new_pipegraph)
    assert [label.value() for label in labels] == ["tumor", "normal", "normal"]
    assert report.value() == {"normal": 2, "tumor": 1}
    assert descriptions[0].value() == "sample t1"
    assert counts(*ALL) == [1, 1, 1, 1, 1]
    cache = Path("cache/futures/classify")
    assert sorted(p.suffix for p in cache.iterdir()) == [".pickle"] * 3
    assert pickle.loads(Path(report.job.filenames[0]).read_bytes()) == {"normal": 2, "tumor": 1}

    labels, report, _ = fan_in(new_pipegraph)
    assert counts(*ALL) == [1, 1, 1, 1, 1]
    assert not report.job.was_run and not labels[0].job.was_run
    assert report.value() == {"normal": 2, "tumor": 1}  # read from the store of the first run


def test_editing_one_function_reruns_only_its_calls_and_their_dependants(new_pipegraph):
    fan_in(new_pipegraph)
    _, report, _ = fan_in(new_pipegraph, analyze=analyze_v2)
    assert counts(*ALL) == [1, 1, 1, 2, 1]
    assert report.value() == ["normal", "normal", "tumor"]
    fan_in(new_pipegraph, classify=classify_v2, analyze=analyze_v2)  # same values: cut off
    assert counts(*ALL) == [2, 2, 2, 2, 1]
    _, report, _ = fan_in(new_pipegraph, classify=classify_v3, analyze=analyze_v2)
    assert counts(*ALL) == [3, 3, 3, 3, 1]
    assert report.value() == ["TUMOR", "normal", "normal"]


def test_a_changed_argument_runs_that_call_and_its_dependants_only(new_pipegraph):
    fan_in(new_pipegraph)
    labels, report, _ = fan_in(new_pipegraph, samples=("t1", "n1", "t2"))
    assert counts(*ALL, "classify_t2") == [1, 1, 1, 2, 1, 1]
    assert report.value() == {"normal": 1, "tumor": 2}
    assert labels[0].job_id == fan_in(new_pipegraph)[0][0].job_id  # ids are stable across runs


def test_nested_futures_in_containers_and_generators(new_pipegraph):
    @ppg.work
    def square(x):
        return x * x

    @ppg.work
    def unpack(data, rest=()):
        return data, rest

    nested = unpack({"a": square(2), "b": [square(3), (square(4), "plain")], "c": {square(5)}},
                    rest=(square(n) for n in range(3)))
    ppg.util.global_pipegraph.connect_graph()  # as run_pipegraph() does first
    # its FunctionInvariant and 6 calls: square(2) is one job, however often it is called
    assert len(nested.job.prerequisites) == 1 + 6
    ppg.run_pipegraph()
    assert nested.value() == ({"a": 4, "b": [9, (16, "plain")], "c": {25}}, [0, 1, 4])


def test_path_arguments_are_input_files(new_pipegraph):
    def words(path):
        count("words")
        return len(path.read_text().split())

    def build():
        new_pipegraph.new_pipegraph()
        ppg.FileGeneratingJob("out/made.txt", lambda of: Path(of).write_text("one two three") and None)
        total = named(lambda paths: sum(paths), "total")
        result = total([named(words, "words")(Path(p)) for p in ("in.txt", "out/made.txt")])
        ppg.run_pipegraph()
        return result

    Path("in.txt").write_text("a b")
    assert build().value() == 5
    assert build().value() == 5 and runs("out/words.count") == 2
    Path("in.txt").write_text("a b c d")
    assert build().value() == 7 and runs("out/words.count") == 3


def test_futures_and_classic_jobs_mix(new_pipegraph):
    @ppg.work
    def greeting(name):
        return f"hello {name}"

    future = greeting("world")
    value_job = ppg.FileGeneratingJob("out/greeting.txt", lambda of: Path(of).write_text(
        ppg.jobs.loading.load_cache(future.job.filenames[0], "x")) and None)
    value_job.depends_on(future.job)
    later = future.depends_on(ppg.FileGeneratingJob("out/first.txt", lambda of: append(of, "1")))
    assert later is future
    ppg.run_pipegraph()
    assert Path("out/greeting.txt").read_text() == "hello world"


def test_a_failing_call_stops_its_dependants_and_has_no_value(new_pipegraph):
    @ppg.work
    def broken(x):
        raise ValueError(f"cannot classify {x}")

    @ppg.work
    def analyze(values):
        return values

    bad, good = broken(1), ppg.work(describe)("n1")
    report = analyze([bad, good])
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert str(bad.job.exception) == "cannot classify 1"
    assert report.job.error_reason == "Indirect"
    assert good.value() == "sample n1"
    with pytest.raises(ValueError, match=r"has no value: its job failed \(Indirect\)"):
        report.value()


def test_work_calls_inside_a_job_generating_job(new_pipegraph):
    Path("samples.txt").write_text("t1 n1 n2")
    classify = named(classify_v1, "classify")
    analyze = named(analyze_v1, "analyze")
    first = classify("t1")

    def plan():
        samples = Path("samples.txt").read_text().split()
        analyze([classify(sample) for sample in samples])

    ppg.JobGeneratingJob("plan", plan)
    graph = ppg.util.global_pipegraph
    generated = []

    class Generated(ppg.Listener):
        def on_jobs_generated(self, generator, new_jobs):
            generated.extend((job, set(job.prerequisites)) for job in new_jobs)

    graph.listeners.append(Generated())
    ppg.run_pipegraph()
    [(job, prerequisites)] = [(job, ups) for job, ups in generated
                              if job.job_id.startswith("analyze#") and not job.is_invariant]
    assert ppg.Future(job).value() == {"normal": 2, "tumor": 1}
    assert first.job in prerequisites  # the generated call is the existing one
    assert counts("classify_t1", "classify_n1", "analyze") == [1, 1, 1]


@pytest.mark.parametrize(("use", "what"), [
    (str, "str()"), (lambda f: f"{f}", "format()"), (lambda f: f + 1, "+"), (lambda f: 2 * f, "*"),
    (lambda f: f < 3, "<"), (lambda f: f == 3, "=="), (bool, "a truth test"), (list, "iteration"),
    (len, "len()"), (lambda f: f["key"], "indexing"), (lambda f: f.upper(), "the attribute .upper"),
    (lambda f: open(f), "a path"),
])
def test_a_future_is_not_a_value(new_pipegraph, use, what):
    future = ppg.work(describe)("n1")
    with pytest.raises(TypeError) as info:
        use(future)
    assert str(info.value) == (
        f"{future!r} is not a value ({what}): a work function call only schedules the work. Pass "
        "the future to another work function, which gets its value when it runs, or read "
        "future.value() after ppg.run_pipegraph()."
    )
    assert repr(future).startswith("Future('describe#")
    assert {future: 1}[future] == 1  # hashable, by identity


@ppg.work
def module_level(x):
    return x


def test_work_functions_and_futures_pickle(new_pipegraph):
    # generated calls travel from the worker to the master pickled
    assert pickle.loads(pickle.dumps(module_level)) is module_level
    local = ppg.work(lambda x: x + 1)
    assert pickle.loads(cloudpickle.dumps(local)).function(1) == 2
    future = module_level(1)
    copy = pickle.loads(cloudpickle.dumps(future))
    assert type(copy) is ppg.Future and repr(copy) == repr(future)


def test_decorator_forms_and_wrapping(new_pipegraph):
    def plain(x):
        """Doc."""
        return x

    assert ppg.work()(plain).function is plain
    wrapped = ppg.work(plain)
    assert ppg.work(wrapped) is wrapped and wrapped.__doc__ == "Doc." and wrapped.__name__ == "plain"
    with pytest.raises(TypeError, match="ppg.work decorates a function, got 3"):
        ppg.work(3)


def test_futures_where_calls_do_not_look_are_refused(new_pipegraph):
    from collections import OrderedDict

    square = ppg.work(lambda x: x * x)
    show = ppg.work(lambda data: data)
    for argument in (OrderedDict(a=square(1)), {square(2): "key"}, [Path("x"), ValueError(square(3))]):
        with pytest.raises(TypeError, match=r"is where calls do not look for futures. Futures are found in "
                                            r"lists, tuples, sets and dict values; not in dict keys"):
            show(argument)
    assert show((square(4),)).job_id in ppg.util.global_pipegraph.jobs


def test_no_value_for_a_pruned_call_or_a_missing_cache_file(new_pipegraph):
    square = ppg.work(lambda x: x * x)
    kept, pruned = square(2), square(3)
    pruned.job.prune()
    ppg.run_pipegraph()
    assert kept.value() == 4
    with pytest.raises(ValueError, match=r"has no value: it did not run \(pruned, or the run was interrupted\)"):
        pruned.value()
    Path(kept.job.filenames[0]).unlink()
    with pytest.raises(ValueError, match="its cache file cache/futures/.*pickle is missing. Run the pipeline again."):
        kept.value()
