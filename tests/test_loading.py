"""DataLoadingJob, AttributeLoadingJob, CachedAttributeLoadingJob, CachedDataLoadingJob
(API.md: "In-memory jobs")."""

import os
import pickle
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


class Holder:
    """Something to hang attributes on (AttributeLoadingJob)."""


def record_unpickle(counter, value):
    """Called when a `CountsLoads` is unpickled: counts loads of the cache file."""
    append(counter, "l")
    return value


class CountsLoads:
    """A value whose unpickling (= loading of a cache file) is counted in a file."""

    def __init__(self, counter, value):
        self.counter = counter
        self.value = value

    def __reduce__(self):
        return (record_unpickle, (self.counter, self.value))


def refuse_unpickle():
    raise ValueError("this pickle cannot be loaded")


class Unloadable:
    """Pickles fine, but unpickling it raises."""

    def __reduce__(self):
        return (refuse_unpickle, ())


# --- DataLoadingJob / AttributeLoadingJob -------------------------------------------


def loader_chain(text="hello", store=None, loader_func=None):
    """A DataLoadingJob storing `text` in `store`, and out/a writing what it sees."""
    store = {} if store is None else store

    def load():
        append("out/load.count", "x")
        store["text"] = text

    def write_a(of):
        append("out/a.count", "x")
        Path(of).write_text(store.get("text", "<missing>"))

    loader = ppg.DataLoadingJob("load", loader_func or load)
    job_a = ppg.FileGeneratingJob("out/a", write_a).depends_on(loader)
    return loader, job_a


def test_data_loading_job_data_visible_to_worker(new_pipegraph):
    loader, job_a = loader_chain("hello")
    ppg.run()
    assert read("out/a") == "hello"
    assert loader.was_loaded and job_a.was_run
    assert runs("out/load.count") == 1


def test_loader_runs_in_master_process(new_pipegraph):
    pids = []
    holder = Holder()

    def load():
        pids.append(os.getpid())  # only visible here if it ran in this process
        holder.pid = os.getpid()

    def write(of):
        Path(of).write_text(f"{holder.pid} {os.getpid()}")

    ppg.FileGeneratingJob("out/a", write).depends_on(ppg.DataLoadingJob("load", load))
    ppg.run()
    assert pids == [os.getpid()]
    loader_pid, worker_pid = read("out/a").split()
    assert int(loader_pid) == os.getpid()
    assert int(worker_pid) != os.getpid()


def test_attribute_loading_job_sets_attribute_for_dependants(new_pipegraph):
    holder = Holder()

    def write(of):
        Path(of).write_text(repr(holder.data))

    load = ppg.AttributeLoadingJob("load", holder, "data", lambda: [1, 2, 3])
    ppg.FileGeneratingJob("out/a", write).depends_on(load)
    ppg.run()
    assert read("out/a") == "[1, 2, 3]"
    assert load.was_loaded


def test_loader_without_dependants_does_not_run(new_pipegraph):
    holder = Holder()
    load = ppg.AttributeLoadingJob("load", holder, "data", lambda: append("out/load.count", "x") or 1)
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    ppg.run()
    assert other.was_run
    assert not load.was_loaded
    assert runs("out/load.count") == 0
    assert not hasattr(holder, "data")


def test_loader_not_run_on_noop_rerun(new_pipegraph):
    loader_chain()
    ppg.run()
    for _ in range(2):
        new_pipegraph.new_pipegraph()
        loader, job_a = loader_chain()
        ppg.run()
        assert not loader.was_loaded and not job_a.was_run
    assert runs("out/load.count") == 1
    assert runs("out/a.count") == 1


def test_loader_runs_when_dependant_output_missing(new_pipegraph):
    loader_chain()
    ppg.run()
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    loader, job_a = loader_chain()
    ppg.run()
    assert loader.was_loaded and job_a.was_run
    assert read("out/a") == "hello"
    assert runs("out/load.count") == 2


def test_unchanged_loader_does_not_rerun_other_dependants(new_pipegraph):
    """The loader runs for out/a; out/b also depends on it but its inputs are unchanged."""

    def build():
        store = {}
        loader, job_a = loader_chain(store=store)

        def write_b(of):
            append("out/b.count", "x")
            Path(of).write_text(store["text"] + "!")

        job_b = ppg.FileGeneratingJob("out/b", write_b).depends_on(loader)
        return loader, job_a, job_b

    build()
    ppg.run()
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    loader, job_a, job_b = build()
    ppg.run()
    assert loader.was_loaded and job_a.was_run
    assert not job_b.was_run
    assert runs("out/b.count") == 1
    assert read("out/b") == "hello!"


def test_loader_function_change_reruns_dependant(new_pipegraph):
    loader_chain("hello")
    ppg.run()

    store = {}

    def load_differently():
        append("out/load.count", "x")
        store["text"] = "changed"

    new_pipegraph.new_pipegraph()
    loader, job_a = loader_chain(store=store, loader_func=load_differently)
    ppg.run()
    assert loader.was_loaded and job_a.was_run
    assert read("out/a") == "changed"
    assert runs("out/a.count") == 2


def test_loader_file_invariant_change_reruns_dependant(new_pipegraph):
    def build():
        store = {}

        def load():
            append("out/load.count", "x")
            store["text"] = read("in.txt")

        def write(of):
            append("out/a.count", "x")
            Path(of).write_text(store["text"])

        loader = ppg.DataLoadingJob("load", load).depends_on(ppg.FileInvariant("in.txt"))
        return loader, ppg.FileGeneratingJob("out/a", write).depends_on(loader)

    Path("in.txt").write_text("one")
    build()
    ppg.run()
    assert read("out/a") == "one"

    new_pipegraph.new_pipegraph()
    loader, job_a = build()
    ppg.run()
    assert not loader.was_loaded and not job_a.was_run

    Path("in.txt").write_text("two")
    new_pipegraph.new_pipegraph()
    loader, job_a = build()
    ppg.run()
    assert loader.was_loaded and job_a.was_run
    assert read("out/a") == "two"
    assert (runs("out/load.count"), runs("out/a.count")) == (2, 2)


def test_loader_parameter_change_reruns_dependant(new_pipegraph):
    def build(param):
        store = {}

        def load():
            store["p"] = param

        loader = ppg.DataLoadingJob("load", load)
        loader.depends_on(ppg.ParameterInvariant("load", param))

        def write(of):
            append("out/a.count", "x")
            Path(of).write_text(str(store["p"]))

        return ppg.FileGeneratingJob("out/a", write).depends_on(loader)

    build(1)
    ppg.run()
    new_pipegraph.new_pipegraph()
    job = build(1)
    ppg.run()
    assert not job.was_run
    new_pipegraph.new_pipegraph()
    job = build(2)
    ppg.run()
    assert job.was_run and read("out/a") == "2"


def test_loader_upstream_output_change_reruns_dependant_with_cutoff(new_pipegraph):
    """out/src -> loader -> out/a: a reruns when out/src's content changed, not otherwise."""

    def build(src_func):
        store = {}

        def load():
            append("out/load.count", "x")
            store["text"] = read("out/src")

        def write(of):
            append("out/a.count", "x")
            Path(of).write_text(store["text"].upper())

        src = ppg.FileGeneratingJob("out/src", src_func)
        loader = ppg.DataLoadingJob("load", load).depends_on(src)
        return src, loader, ppg.FileGeneratingJob("out/a", write).depends_on(loader)

    def src_v1(of):
        Path(of).write_text("abc")

    def src_v2(of):
        Path(of).write_text("xyz")

    def src_v3(of):
        text = "xyz"
        Path(of).write_text(text)

    build(src_v1)
    ppg.run()
    assert read("out/a") == "ABC"

    new_pipegraph.new_pipegraph()
    src, loader, job_a = build(src_v2)
    ppg.run()
    assert src.was_run and job_a.was_run
    assert read("out/a") == "XYZ"

    new_pipegraph.new_pipegraph()
    src, loader, job_a = build(src_v3)  # new code, same output
    ppg.run()
    assert src.was_run
    assert not job_a.was_run
    assert runs("out/a.count") == 2


def test_chained_loaders_run_all_or_none(new_pipegraph):
    def build():
        store = {}

        def load_1():
            append("out/l1.count", "x")
            store["a"] = "A"

        def load_2():
            append("out/l2.count", "x")
            store["b"] = store["a"] + "B"

        l1 = ppg.DataLoadingJob("l1", load_1)
        l2 = ppg.DataLoadingJob("l2", load_2).depends_on(l1)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(store["b"]) and None)
        job.depends_on(l2)
        return l1, l2, job

    build()
    ppg.run()
    assert read("out/a") == "AB"
    new_pipegraph.new_pipegraph()
    l1, l2, job = build()
    ppg.run()
    assert not l1.was_loaded and not l2.was_loaded and not job.was_run
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    l1, l2, job = build()
    ppg.run()
    assert l1.was_loaded and l2.was_loaded and job.was_run
    assert read("out/a") == "AB"
    assert runs("out/l1.count") == runs("out/l2.count") == 2


def test_loader_runs_when_dependant_invalidated_by_own_invariant(new_pipegraph):
    def build(param):
        store = {}

        def load():
            append("out/load.count", "x")
            store["text"] = "loaded"

        def write(of, param=param):
            Path(of).write_text(f"{store['text']}:{param}")

        loader = ppg.DataLoadingJob("load", load)
        job = ppg.FileGeneratingJob("out/a", write).depends_on(loader)
        job.depends_on_params(param)
        return loader, job

    build(1)
    ppg.run()
    new_pipegraph.new_pipegraph()
    loader, job = build(2)
    ppg.run()
    assert loader.was_loaded and job.was_run
    assert read("out/a") == "loaded:2"
    assert runs("out/load.count") == 2


def test_chained_loader_function_change_propagates(new_pipegraph):
    def build(first_value):
        store = {}

        def load_1():
            store["a"] = first_value

        def load_2():
            store["b"] = store["a"] * 2

        l1 = ppg.DataLoadingJob("l1", load_1)
        l1.ignore_code_changes()
        l1.depends_on_params(first_value)
        l2 = ppg.DataLoadingJob("l2", load_2).depends_on(l1)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(str(store["b"])) and None)
        return job.depends_on(l2)

    build(1)
    ppg.run()
    assert read("out/a") == "2"
    new_pipegraph.new_pipegraph()
    job = build(5)
    ppg.run()
    assert job.was_run and read("out/a") == "10"


@pytest.mark.parametrize("kind", ["data", "attribute"])
def test_creating_job_inside_loader_is_contract_error(new_pipegraph, kind):
    holder = Holder()

    def load():
        ppg.FileGeneratingJob("out/sneaky", lambda of: Path(of).write_text("s") and None)
        return 1

    if kind == "data":
        loader = ppg.DataLoadingJob("load", load)
    else:
        loader = ppg.AttributeLoadingJob("load", holder, "x", load)
    job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("a") and None).depends_on(loader)
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert loader.failed
    assert isinstance(loader.exception, ppg.JobContractError)
    assert job.failed and not job.was_run
    assert not os.path.exists("out/sneaky") and not os.path.exists("out/a")
    assert other.was_run


def test_chdir_inside_loader_is_undone(new_pipegraph, ppg_dir):
    store = {}

    def load():
        os.chdir("out")
        store["cwd"] = os.getcwd()

    def write(of):
        Path(of).write_text(os.getcwd())

    loader = ppg.DataLoadingJob("load", load)
    ppg.FileGeneratingJob("out/a", write).depends_on(loader)
    ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text("b") and None).depends_on(loader)
    ppg.run()
    assert store["cwd"] == str(ppg_dir / "out")
    assert os.getcwd() == str(ppg_dir)
    assert read(ppg_dir / "out" / "a") == str(ppg_dir)
    assert (ppg_dir / "out" / "b").exists()
    assert not (ppg_dir / "out" / "out").exists()


def test_failing_loader_fails_dependants_and_reruns_later(new_pipegraph):
    def build():
        store = {}

        def load():
            append("out/load.count", "x")
            if not os.path.exists("flag"):
                raise ValueError("no flag")
            store["x"] = "ok"

        loader = ppg.DataLoadingJob("load", load)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(store["x"]) and None)
        return loader, job.depends_on(loader)

    loader, job = build()
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run()
    assert loader.failed and isinstance(loader.exception, ValueError)
    assert job.failed and job.error_reason == "Indirect" and not job.was_run
    assert "load" in str(info.value)

    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    loader, job = build()
    ppg.run()
    assert loader.was_loaded and job.was_run and read("out/a") == "ok"


def test_chdir_undone_when_loader_fails(new_pipegraph, ppg_dir):
    def load():
        os.chdir("out")
        raise ValueError("after chdir")

    loader = ppg.DataLoadingJob("load", load)
    ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("a") and None).depends_on(loader)
    other = ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text("b") and None)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert os.getcwd() == str(ppg_dir)
    assert other.was_run and (ppg_dir / "out" / "b").exists()


def test_failing_upstream_of_loader_fails_dependant_indirectly(new_pipegraph):
    """out/src fails -> loader cannot run -> out/a cannot run: both are reported."""

    def fail(of):
        raise ValueError("src broken")

    src = ppg.FileGeneratingJob("out/src", fail)
    loader = ppg.DataLoadingJob("load", lambda: None).depends_on(src)
    job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("a") and None).depends_on(loader)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert src.failed and src.error_reason == "Exception"
    assert not loader.was_loaded and not job.was_run
    assert job.failed
    assert job.error_reason == "Indirect"


def test_loader_bad_arguments(new_pipegraph):
    holder = Holder()
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.DataLoadingJob("d", "not callable")
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.AttributeLoadingJob("a", holder, "x", 5)
    with pytest.raises(ValueError):
        ppg.AttributeLoadingJob("b", holder, 5, lambda: 1)
    with pytest.raises(ValueError):
        ppg.AttributeLoadingJob("c", holder, None, lambda: 1)
    with pytest.raises(TypeError):
        ppg.DataLoadingJob(5, lambda: 1)


def test_loader_reused_id(new_pipegraph):
    holder = Holder()

    def load():
        return 1

    job = ppg.AttributeLoadingJob("a", holder, "x", load)
    assert ppg.AttributeLoadingJob("a", holder, "x", load) is job
    with pytest.raises(ValueError):
        ppg.AttributeLoadingJob("a", holder, "y", load)
    with pytest.raises(ValueError):
        ppg.AttributeLoadingJob("a", Holder(), "x", load)
    with pytest.raises(ValueError):
        ppg.DataLoadingJob("a", load)  # other class
    data = ppg.DataLoadingJob("d", load)
    assert ppg.DataLoadingJob("d", load) is data
    with pytest.raises(ValueError):
        ppg.DataLoadingJob("d", lambda: 2)


# --- CachedAttributeLoadingJob / CachedDataLoadingJob ------------------------------


def cached_attr_chain(holder=None, calc=None, value="v1"):
    holder = Holder() if holder is None else holder

    def default_calc():
        append("out/calc.count", "x")
        append("out/calc.pid", f"{os.getpid()} ")
        return CountsLoads("out/loads.count", {"value": value})

    def write(of):
        append("out/a.count", "x")
        Path(of).write_text(holder.data["value"])

    cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", calc or default_calc)
    job = ppg.FileGeneratingJob("out/a", write).depends_on(cached)
    return cached, job


def test_cached_attribute_calculates_in_worker_and_pickles(new_pipegraph):
    cached, job = cached_attr_chain()
    ppg.run()
    assert read("out/a") == "v1"
    assert int(read("out/calc.pid").split()[0]) != os.getpid()
    assert cached.lfg.was_run
    with open("out/cache", "rb") as fh:
        assert pickle.load(fh) == {"value": "v1"}  # counted as a load, too
    assert runs("out/calc.count") == 1
    assert runs("out/loads.count") == 2  # master load + the check above


def test_cached_attribute_noop_rerun_neither_calculates_nor_loads(new_pipegraph):
    cached_attr_chain()
    ppg.run()
    assert runs("out/loads.count") == 1
    new_pipegraph.new_pipegraph()
    cached, job = cached_attr_chain()
    ppg.run()
    assert not job.was_run and not cached.was_run and not cached.lfg.was_run
    assert runs("out/calc.count") == 1
    assert runs("out/loads.count") == 1


def test_cached_attribute_fresh_cache_loaded_without_calculation(new_pipegraph):
    cached_attr_chain()
    ppg.run()
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    cached, job = cached_attr_chain()
    ppg.run()
    assert job.was_run and read("out/a") == "v1"
    assert not cached.lfg.was_run
    assert runs("out/calc.count") == 1
    assert runs("out/loads.count") == 2
    assert runs("out/a.count") == 2


def test_cached_attribute_calc_change_recalculates(new_pipegraph):
    cached_attr_chain()
    ppg.run()

    def new_calc():
        append("out/calc.count", "x")
        return {"value": "v2"}

    new_pipegraph.new_pipegraph()
    cached, job = cached_attr_chain(calc=new_calc)
    ppg.run()
    assert cached.lfg.was_run and job.was_run
    assert read("out/a") == "v2"
    assert runs("out/calc.count") == 2


def test_cached_attribute_missing_cache_recalculates_same_value_no_downstream(new_pipegraph):
    cached_attr_chain()
    ppg.run()
    os.unlink("out/cache")
    new_pipegraph.new_pipegraph()
    cached, job = cached_attr_chain()
    ppg.run()
    assert cached.lfg.was_run
    assert os.path.exists("out/cache")
    assert runs("out/calc.count") == 2
    assert not job.was_run  # the recalculated value is identical
    assert runs("out/a.count") == 1


def test_cached_depends_on_goes_to_calculation(new_pipegraph):
    def build(param):
        holder = Holder()

        def calc():
            append("out/calc.count", "x")
            return {"value": read("in.txt")}

        cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", calc)
        inv = ppg.ParameterInvariant("calc", param)
        file_inv = ppg.FileInvariant("in.txt")
        assert cached.depends_on(inv, file_inv) is cached
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(holder.data["value"]) and None)
        job.depends_on(cached)
        return cached, inv, file_inv, job

    Path("in.txt").write_text("one")
    cached, inv, file_inv, job = build(1)
    assert inv in cached.lfg.prerequisites and file_inv in cached.lfg.prerequisites
    ppg.run()
    assert read("out/a") == "one"

    new_pipegraph.new_pipegraph()
    cached, inv, file_inv, job = build(2)
    ppg.run()
    assert cached.lfg.was_run
    assert runs("out/calc.count") == 2

    Path("in.txt").write_text("two")
    new_pipegraph.new_pipegraph()
    cached, inv, file_inv, job = build(2)
    ppg.run()
    assert cached.lfg.was_run and job.was_run
    assert read("out/a") == "two"
    assert runs("out/calc.count") == 3


def test_cached_fresh_cache_does_not_run_upstream_loader(new_pipegraph):
    def build():
        holder = Holder()
        store = {}

        def load():
            append("out/load.count", "x")
            store["base"] = "base"

        def calc():
            append("out/calc.count", "x")
            return store["base"] + "+calc"

        loader = ppg.DataLoadingJob("upstream", load)
        cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", calc).depends_on(loader)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(holder.data) and None)
        return loader, cached, job.depends_on(cached)

    build()
    ppg.run()
    assert read("out/a") == "base+calc"
    assert runs("out/load.count") == 1
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    loader, cached, job = build()
    ppg.run()
    assert job.was_run and read("out/a") == "base+calc"
    assert not cached.lfg.was_run
    assert not loader.was_loaded
    assert runs("out/load.count") == 1 and runs("out/calc.count") == 1


def test_cached_recalculation_runs_upstream_loader_first(new_pipegraph):
    def build(param):
        holder = Holder()
        store = {}

        def load(param=param):
            append("out/load.count", "x")
            store["base"] = f"base{param}"

        def calc():
            append("out/calc.count", "x")
            return store["base"] + "+calc"

        loader = ppg.DataLoadingJob("upstream", load)
        cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", calc).depends_on(loader)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(holder.data) and None)
        return loader, cached, job.depends_on(cached)

    build(1)
    ppg.run()
    new_pipegraph.new_pipegraph()
    loader, cached, job = build(2)  # the loader's function changed
    ppg.run()
    assert loader.was_loaded and cached.lfg.was_run and job.was_run
    assert read("out/a") == "base2+calc"
    assert runs("out/calc.count") == 2


def test_cached_unloadable_cache_error_names_file(new_pipegraph):
    holder = Holder()
    cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", lambda: Unloadable())
    job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(str(holder.data)) and None)
    job.depends_on(cached)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert cached.lfg.was_run and not cached.lfg.failed
    assert cached.failed
    message = str(cached.exception)
    assert "out/cache" in message
    assert "unpickl" in message.lower()
    assert job.failed and not job.was_run


def test_cached_failing_calculation(new_pipegraph):
    holder = Holder()

    def calc():
        raise ValueError("cannot compute")

    cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", calc)
    job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(str(holder.data)) and None)
    job.depends_on(cached)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert cached.lfg.failed and isinstance(cached.lfg.exception, ValueError)
    assert job.failed and not job.was_run
    assert not os.path.exists("out/cache") and not os.path.exists("out/a")


def test_cached_tampered_cache_file_is_recalculated(new_pipegraph):
    """A cache file overwritten outside the pipeline is rebuilt, not unpickled."""
    holder = Holder()

    def build():
        def calc():
            append("out/calc.count", "x")
            return {"a": 1}

        cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "data", calc)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(str(holder.data)) and None)
        return cached, job.depends_on(cached)

    build()
    ppg.run()
    Path("out/cache").write_bytes(b"this is not a pickle")
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    cached, job = build()
    ppg.run()
    assert cached.lfg.was_run and job.was_run
    assert read("out/a") == "{'a': 1}"
    assert runs("out/calc.count") == 2


def test_cached_data_loading_job(new_pipegraph):
    def build(value="v1"):
        store = {}

        def calc():
            append("out/calc.count", "x")
            append("out/calc.pid", f"{os.getpid()} ")
            return CountsLoads("out/loads.count", [value])

        def store_it(data):
            append("out/store.count", "x")
            store["data"] = data

        cached = ppg.CachedDataLoadingJob("out/cache", calc, store_it)
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(store["data"][0]) and None)
        return cached, job.depends_on(cached)

    cached, job = build()
    ppg.run()
    assert read("out/a") == "v1"
    assert int(read("out/calc.pid").split()[0]) != os.getpid()
    assert (runs("out/calc.count"), runs("out/loads.count"), runs("out/store.count")) == (1, 1, 1)

    new_pipegraph.new_pipegraph()
    cached, job = build()
    ppg.run()
    assert not cached.lfg.was_run and not job.was_run
    assert (runs("out/calc.count"), runs("out/loads.count"), runs("out/store.count")) == (1, 1, 1)

    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    cached, job = build()
    ppg.run()
    assert job.was_run and read("out/a") == "v1"
    assert (runs("out/calc.count"), runs("out/loads.count"), runs("out/store.count")) == (1, 2, 2)


def test_cached_data_loading_job_calc_change(new_pipegraph):
    def build(calc):
        store = {}
        cached = ppg.CachedDataLoadingJob("out/cache", calc, lambda data: store.update(data=data))
        job = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text(store["data"]) and None)
        return cached, job.depends_on(cached)

    build(lambda: "first")
    ppg.run()
    assert read("out/a") == "first"
    new_pipegraph.new_pipegraph()
    cached, job = build(lambda: "second")
    ppg.run()
    assert cached.lfg.was_run and job.was_run
    assert read("out/a") == "second"


def test_cached_bad_arguments(new_pipegraph):
    holder = Holder()

    def calc():
        return 1

    with pytest.raises(ValueError, match="was not a callable"):
        ppg.CachedAttributeLoadingJob("out/c1", holder, "x", "not callable")
    with pytest.raises(ValueError):
        ppg.CachedAttributeLoadingJob("out/c2", holder, 7, calc)
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.CachedDataLoadingJob("out/c3", calc, "not callable")
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.CachedDataLoadingJob("out/c4", None, lambda data: None)
    with pytest.raises(TypeError, match="cache_filename must be a str"):
        ppg.CachedDataLoadingJob(5, calc, lambda data: None)


def test_cached_attribute_reused_id(new_pipegraph):
    holder = Holder()

    def calc():
        return 1

    job = ppg.CachedAttributeLoadingJob("out/c5", holder, "x", calc)
    assert ppg.CachedAttributeLoadingJob("out/c5", holder, "x", calc) is job
    with pytest.raises(ValueError):
        ppg.CachedAttributeLoadingJob("out/c5", holder, "y", calc)
    with pytest.raises(ValueError):
        ppg.CachedAttributeLoadingJob("out/c5", holder, "x", lambda: 2)  # other calculation


def test_cached_data_reused_id(new_pipegraph):
    def calc():
        return 1

    def store(data):
        pass

    job = ppg.CachedDataLoadingJob("out/c6", calc, store)
    assert ppg.CachedDataLoadingJob("out/c6", calc, store) is job
    with pytest.raises(ValueError):
        ppg.CachedDataLoadingJob("out/c6", lambda: 2, store)  # other calculation


def test_attribute_is_removed_once_all_dependants_ran(new_pipegraph):
    """0.197: AttributeLoadingJob.cleanup deletes the attribute in the master after every
    direct dependant ran; a library subclass's cleanup() is called at that point too."""

    class Holder:
        pass

    calls = []

    class Tidy(ppg.DataLoadingJob):
        def cleanup(self):
            calls.append(self.job_id)

    def build():
        holder = Holder()
        attr = ppg.AttributeLoadingJob("attr", holder, "value", lambda: "v")
        tidy = Tidy("tidy", lambda: None)
        one = ppg.FileGeneratingJob("out/one", lambda of: Path(of).write_text(holder.value) and None)
        two = ppg.FileGeneratingJob("out/two", lambda of: Path(of).write_text(holder.value * 2) and None)
        one.depends_on(attr, tidy)
        two.depends_on(attr)
        return holder, attr

    holder, attr = build()
    ppg.run()
    assert read("out/one") == "v" and read("out/two") == "vv"
    assert not hasattr(holder, "value") and attr.was_cleaned_up
    assert calls == ["tidy"]
    os.unlink("out/two")  # only one dependant runs: the other did not, so nothing is removed
    new_pipegraph.new_pipegraph()
    holder, attr = build()
    ppg.run()
    assert holder.value == "v" and not attr.was_cleaned_up


@pytest.mark.parametrize("reuse", [False, True], ids=["fresh process per job", "reused workers"])
def test_jobs_started_after_a_cleanup_do_not_see_the_deleted_attribute(new_pipegraph, reuse):
    """Workers forked while the attribute existed are not used again once it was deleted;
    `second` and `third` do not depend on the loader and start after the cleanup."""
    new_pipegraph.new_pipegraph(reuse_workers=reuse)
    holder = Holder()

    def seen(of):
        Path(of).write_text(str(getattr(holder, "value", "<none>")))

    load = ppg.AttributeLoadingJob("load", holder, "value", lambda: "loaded")
    first = ppg.FileGeneratingJob("out/first", seen).depends_on(load)
    second = ppg.FileGeneratingJob("out/second", seen).depends_on(first)
    ppg.FileGeneratingJob("out/third", seen).depends_on(second)
    ppg.run()
    assert [read(f"out/{name}") for name in ("first", "second", "third")] == ["loaded", "<none>", "<none>"]
    assert load.was_cleaned_up


@pytest.mark.parametrize("reuse", [False, True], ids=["fresh process per job", "reused workers"])
def test_a_loader_used_by_a_loader_keeps_its_attribute_for_the_run(new_pipegraph, reuse):
    """0.197: only executed jobs clean up their prerequisites and a loader never counts as
    executed, so `raw` (read by the loader `norm` and by `both`) stays; `norm` is deleted
    after `both`, its one dependant, ran."""
    new_pipegraph.new_pipegraph(reuse_workers=reuse)
    holder = Holder()
    raw = ppg.AttributeLoadingJob("raw", holder, "raw", lambda: 1)
    norm = ppg.AttributeLoadingJob("norm", holder, "norm", lambda: holder.raw + 1).depends_on(raw)
    both = ppg.FileGeneratingJob("out/both", lambda of: Path(of).write_text(f"{holder.raw} {holder.norm}") and None)
    both.depends_on(raw, norm)
    ppg.run()
    assert read("out/both") == "1 2"
    assert holder.raw == 1 and not raw.was_cleaned_up
    assert not hasattr(holder, "norm") and norm.was_cleaned_up
