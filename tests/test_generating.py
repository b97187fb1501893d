"""JobGeneratingJob, DependencyInjectionJob, FinalJob and pruned generators
(API.md: "Graph-changing jobs")."""

import os
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


def write_named(of):
    """A generated job's callback: counts its runs per file, writes its own name."""
    append(of + ".count", "x")
    Path(of).write_text(os.path.basename(of))


def generator_from_file(job_id="gen", names_file="names.txt"):
    """A JobGeneratingJob creating one out/<name> job per line of names_file."""

    def generate():
        append("out/gen.count", "x")
        for name in read(names_file).split():
            ppg.FileGeneratingJob(f"out/{name}", write_named)

    return ppg.JobGeneratingJob(job_id, generate)


def graph_job(job_id):
    return ppg.util.global_pipegraph.jobs[job_id]


class EdgesAtEnd(ppg.Listener):
    """The graph's edges as the run ended (afterwards jobs' edges are released, as in 0.197)."""

    def __init__(self):
        ppg.util.global_pipegraph.listeners.append(self)
        self.prerequisites = self.dependants = {}

    def on_run_ended(self, scheduler, outcome):
        self.prerequisites = {job.job_id: {up.job_id for up in job.prerequisites} for job in scheduler.jobs}
        self.dependants = {job.job_id: {down.job_id for down in job.dependants} for job in scheduler.jobs}


# --- JobGeneratingJob -------------------------------------------------------------------


def test_generated_jobs_run(new_pipegraph):
    Path("names.txt").write_text("a b c")
    gen = generator_from_file()
    ppg.run()
    assert gen.was_run
    for name in "abc":
        assert read(f"out/{name}") == name
        assert runs(f"out/{name}.count") == 1
        assert graph_job(f"out/{name}").was_run


def test_generator_runs_every_run_and_up_to_date_jobs_do_not(new_pipegraph):
    Path("names.txt").write_text("a b")
    generator_from_file()
    ppg.run()
    for _ in range(2):
        new_pipegraph.new_pipegraph()
        gen = generator_from_file()
        ppg.run()
        assert gen.was_run
        assert not graph_job("out/a").was_run and not graph_job("out/b").was_run
    assert runs("out/gen.count") == 3
    assert runs("out/a.count") == runs("out/b.count") == 1


def test_grown_generator_input_runs_only_new_jobs(new_pipegraph):
    Path("names.txt").write_text("a b")
    generator_from_file()
    ppg.run()
    Path("names.txt").write_text("a b c d")
    new_pipegraph.new_pipegraph()
    generator_from_file()
    ppg.run()
    assert [n for n in "abcd" if graph_job(f"out/{n}").was_run] == ["c", "d"]
    assert [runs(f"out/{n}.count") for n in "abcd"] == [1, 1, 1, 1]
    assert read("out/d") == "d"


def test_generated_job_deleted_output_reruns_only_it(new_pipegraph):
    Path("names.txt").write_text("a b")
    generator_from_file()
    ppg.run()
    os.unlink("out/b")
    new_pipegraph.new_pipegraph()
    generator_from_file()
    ppg.run()
    assert not graph_job("out/a").was_run and graph_job("out/b").was_run
    assert runs("out/a.count") == 1 and runs("out/b.count") == 2


def test_generated_jobs_depend_on_each_other_and_on_invariants(new_pipegraph):
    def build(param):
        def generate():
            def make_first(of):
                append("out/first.count", "x")
                Path(of).write_text(f"first:{param}")

            def make_second(of):
                append("out/second.count", "x")
                Path(of).write_text(read("out/first") + "+second")

            first = ppg.FileGeneratingJob("out/first", make_first)
            first.ignore_code_changes()
            first.depends_on(ppg.ParameterInvariant("first", param))
            second = ppg.FileGeneratingJob("out/second", make_second)
            second.depends_on(first)

        return ppg.JobGeneratingJob("gen", generate)

    build(1)
    ppg.run()
    assert read("out/second") == "first:1+second"
    new_pipegraph.new_pipegraph()
    build(1)
    ppg.run()
    assert runs("out/first.count") == runs("out/second.count") == 1
    new_pipegraph.new_pipegraph()
    build(2)
    ppg.run()
    assert graph_job("out/first").was_run and graph_job("out/second").was_run
    assert read("out/second") == "first:2+second"
    assert runs("out/first.count") == runs("out/second.count") == 2


def test_generated_job_depends_on_existing_job(new_pipegraph):
    def build():
        base = ppg.FileGeneratingJob("out/base", lambda of: Path(of).write_text("base") and None)

        def generate():
            def make(of):
                append("out/gen_job.count", "x")
                Path(of).write_text(read("out/base") + "+generated")

            ppg.FileGeneratingJob("out/gen_job", make).depends_on(base)

        return base, ppg.JobGeneratingJob("gen", generate)

    build()
    ppg.run()
    assert read("out/gen_job") == "base+generated"
    new_pipegraph.new_pipegraph()
    build()
    ppg.run()
    assert runs("out/gen_job.count") == 1


def test_generator_reads_upstream_output(new_pipegraph):
    """The README's example: an output job lists what to generate; the generator reads it."""

    def build():
        listing = ppg.FileGeneratingJob("out/listing", lambda of: Path(of).write_text(read("names.txt")) and None)
        listing.depends_on(ppg.FileInvariant("names.txt"))
        gen = generator_from_file(names_file="out/listing")
        return listing, gen.depends_on(listing)

    Path("names.txt").write_text("x y")
    build()
    ppg.run()
    assert read("out/x") == "x" and read("out/y") == "y"
    Path("names.txt").write_text("x y z")
    new_pipegraph.new_pipegraph()
    build()
    ppg.run()
    assert read("out/z") == "z"
    assert (runs("out/x.count"), runs("out/y.count"), runs("out/z.count")) == (1, 1, 1)


def test_generator_sees_loaded_data(new_pipegraph):
    store = {}

    def load():
        store["names"] = ["p", "q"]

    def generate():
        for name in store["names"]:
            ppg.FileGeneratingJob(f"out/{name}", write_named)

    loader = ppg.DataLoadingJob("load", load)
    ppg.JobGeneratingJob("gen", generate).depends_on(loader)
    ppg.run()
    assert loader.was_loaded
    assert read("out/p") == "p" and read("out/q") == "q"


def test_nested_generation(new_pipegraph):
    def build():
        def outer():
            append("out/outer.count", "x")

            def inner():
                append("out/inner.count", "x")
                ppg.FileGeneratingJob("out/deep", write_named)

            ppg.JobGeneratingJob("inner", inner)

        return ppg.JobGeneratingJob("outer", outer)

    build()
    ppg.run()
    assert read("out/deep") == "deep"
    new_pipegraph.new_pipegraph()
    build()
    ppg.run()
    assert runs("out/outer.count") == runs("out/inner.count") == 2
    assert runs("out/deep.count") == 1


def test_generator_adding_dependency_to_existing_job_is_contract_error(new_pipegraph):
    existing = ppg.FileGeneratingJob("out/existing", lambda of: Path(of).write_text("e") and None)

    def generate():
        new = ppg.FileGeneratingJob("out/new", write_named)
        existing.depends_on(new)

    gen = ppg.JobGeneratingJob("gen", generate)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert gen.failed
    assert isinstance(gen.exception, ppg.JobContractError)
    assert read("out/existing") == "e"
    assert not os.path.exists("out/new")


def test_generated_job_reusing_id_with_other_arguments_fails_generator(new_pipegraph):
    existing = ppg.FileGeneratingJob("out/existing", lambda of: Path(of).write_text("e") and None)

    def generate():
        ppg.FileGeneratingJob("out/existing", write_named)

    gen = ppg.JobGeneratingJob("gen", generate)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert gen.failed and isinstance(gen.exception, ValueError)
    assert existing.was_run and read("out/existing") == "e"


SHARED = {}


def load_shared():
    append("out/load.count", "x")
    SHARED["text"] = "loaded"


def write_shared(of):
    append("out/g.count", "x")
    Path(of).write_text(SHARED["text"])


def test_generated_job_depends_on_existing_loader(new_pipegraph):
    """Generated jobs travel back to the master pickled: they see master data through
    module-level names (closure values would be copies, as in the original)."""

    def build():
        SHARED.clear()
        loader = ppg.DataLoadingJob("load", load_shared)

        def generate():
            ppg.FileGeneratingJob("out/g", write_shared).depends_on(loader)

        return loader, ppg.JobGeneratingJob("gen", generate)

    loader, gen = build()
    ppg.run()
    assert loader.was_loaded
    assert read("out/g") == "loaded"
    new_pipegraph.new_pipegraph()
    loader, gen = build()
    ppg.run()
    assert not loader.was_loaded
    assert runs("out/load.count") == 1 and runs("out/g.count") == 1
    os.unlink("out/g")
    new_pipegraph.new_pipegraph()
    loader, gen = build()
    ppg.run()
    assert loader.was_loaded and read("out/g") == "loaded"


def test_generated_lazy_jobs(new_pipegraph):
    """A generator creates a loader, a temp file, a cached attribute and their dependant."""

    class Holder:
        pass

    def build():
        holder = Holder()

        def generate():
            def load():
                append("out/load.count", "x")
                holder.loaded = "L"

            def temp(of):
                append("out/temp.count", "x")
                Path(of).write_text("T")

            def calc():
                append("out/calc.count", "x")
                return "C"

            def make(of):
                append("out/final.count", "x")
                Path(of).write_text(holder.loaded + read("out/temp") + holder.cached)

            loader = ppg.DataLoadingJob("gen_load", load)
            temp_job = ppg.TempFileGeneratingJob("out/temp", temp)
            cached = ppg.CachedAttributeLoadingJob("out/cache", holder, "cached", calc)
            ppg.FileGeneratingJob("out/final", make).depends_on(loader, temp_job, cached)

        return ppg.JobGeneratingJob("gen", generate)

    build()
    ppg.run()
    assert read("out/final") == "LTC"
    assert not os.path.exists("out/temp") and os.path.exists("out/cache")
    new_pipegraph.new_pipegraph()
    build()
    ppg.run()
    counts = [runs(f"out/{n}.count") for n in ("load", "temp", "calc", "final")]
    assert counts == [1, 1, 1, 1]
    os.unlink("out/final")
    new_pipegraph.new_pipegraph()
    build()
    ppg.run()
    assert read("out/final") == "LTC"
    counts = [runs(f"out/{n}.count") for n in ("load", "temp", "calc", "final")]
    assert counts == [2, 2, 1, 2]


def test_loader_upstream_of_generator_runs_every_run(new_pipegraph):
    def build():
        store = {}

        def load():
            append("out/load.count", "x")
            store["names"] = ["n"]

        def generate():
            for name in store["names"]:
                ppg.FileGeneratingJob(f"out/{name}", write_named)

        loader = ppg.DataLoadingJob("load", load)
        return ppg.JobGeneratingJob("gen", generate).depends_on(loader)

    build()
    ppg.run()
    new_pipegraph.new_pipegraph()
    gen = build()
    ppg.run()
    assert gen.was_run and not gen.failed
    assert runs("out/load.count") == 2
    assert runs("out/n.count") == 1


def test_generated_job_depends_on_existing_invariant(new_pipegraph):
    def build(param):
        inv = ppg.ParameterInvariant("shared", param)

        def generate():
            ppg.FileGeneratingJob("out/g", write_named).depends_on(inv)

        return ppg.JobGeneratingJob("gen", generate)

    build(1)
    ppg.run()
    new_pipegraph.new_pipegraph()
    build(1)
    ppg.run()
    assert runs("out/g.count") == 1
    new_pipegraph.new_pipegraph()
    build(2)
    ppg.run()
    assert runs("out/g.count") == 2


def test_two_generators_defining_the_same_job(new_pipegraph):
    def build():
        def generate():
            ppg.FileGeneratingJob("out/shared", write_named)

        return ppg.JobGeneratingJob("gen1", generate), ppg.JobGeneratingJob("gen2", generate)

    gen1, gen2 = build()
    ppg.run()
    assert not gen1.failed and not gen2.failed
    assert read("out/shared") == "shared"
    assert runs("out/shared.count") == 1


def test_dependant_of_generator_not_rerun_on_noop(new_pipegraph):
    def build():
        Path("names.txt").write_text("a")
        gen = generator_from_file()

        def after(of):
            append("out/after.count", "x")
            Path(of).write_text("after")

        return gen, ppg.FileGeneratingJob("out/after", after).depends_on(gen)

    build()
    ppg.run()
    new_pipegraph.new_pipegraph()
    gen, after = build()
    ppg.run()
    assert gen.was_run and not after.was_run
    assert runs("out/after.count") == 1


def test_generator_failure(new_pipegraph):
    def generate():
        ppg.FileGeneratingJob("out/never", write_named)
        raise ValueError("generation failed")

    gen = ppg.JobGeneratingJob("gen", generate)
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert gen.failed and isinstance(gen.exception, ValueError)
    assert other.was_run
    assert not os.path.exists("out/never")


def test_generator_bad_arguments_and_reused_id(new_pipegraph):
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.JobGeneratingJob("g1", "not callable")
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.DependencyInjectionJob("d1", 5)
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.FinalJob("f1", None)
    with pytest.raises(TypeError):
        ppg.JobGeneratingJob(7, lambda: None)

    def cb():
        pass

    gen = ppg.JobGeneratingJob("g2", cb)
    assert ppg.JobGeneratingJob("g2", cb) is gen
    with pytest.raises(ValueError):
        ppg.JobGeneratingJob("g2", lambda: 1)
    with pytest.raises(ValueError):
        ppg.DependencyInjectionJob("g2", cb)
    final = ppg.FinalJob("f2", cb)
    assert ppg.FinalJob("f2", cb) is final
    with pytest.raises(ValueError):
        ppg.FinalJob("f2", lambda: 1)
    inj = ppg.DependencyInjectionJob("d2", cb)
    assert ppg.DependencyInjectionJob("d2", cb) is inj
    with pytest.raises(ValueError):
        ppg.DependencyInjectionJob("d2", lambda: 1)


# --- DependencyInjectionJob ---------------------------------------------------------


def injection_setup(names=("1", "2", "3")):
    """Z combines out/page_*; C (injection) creates the page jobs and returns them."""

    def inject():
        append("out/inject.count", "x")
        return [ppg.FileGeneratingJob(f"out/page_{n}", write_named) for n in names]

    def combine(of):
        append("out/z.count", "x")
        pages = sorted(p for p in os.listdir("out") if p.startswith("page_") and "." not in p)
        Path(of).write_text(",".join(read(f"out/{p}") for p in pages))

    injection = ppg.DependencyInjectionJob("inject", inject)
    z = ppg.FileGeneratingJob("out/z", combine).depends_on(injection)
    return injection, z


def test_injected_jobs_run_before_dependant(new_pipegraph):
    injection, z = injection_setup()
    edges = EdgesAtEnd()
    ppg.run()
    assert injection.was_run and z.was_run
    assert read("out/z") == "page_1,page_2,page_3"
    prereq_ids = edges.prerequisites["out/z"]
    assert {"out/page_1", "out/page_2", "out/page_3"} <= prereq_ids


def test_injected_jobs_wait_for_slow_jobs(new_pipegraph):
    def inject():
        def slow(of):
            time.sleep(0.3)
            Path(of).write_text("slow")

        return ppg.FileGeneratingJob("out/slow", slow)

    injection = ppg.DependencyInjectionJob("inject", inject)
    z = ppg.FileGeneratingJob("out/z", lambda of: Path(of).write_text(read("out/slow") + "!") and None)
    z.depends_on(injection)
    ppg.run()
    assert read("out/z") == "slow!"


def test_injection_rerun_does_not_retrigger(new_pipegraph):
    injection_setup()
    ppg.run()
    for _ in range(2):
        new_pipegraph.new_pipegraph()
        injection, z = injection_setup()
        ppg.run()
        assert injection.was_run
        assert not z.was_run
    assert runs("out/z.count") == 1
    assert runs("out/inject.count") == 3
    assert all(runs(f"out/page_{n}.count") == 1 for n in "123")


def test_injection_new_injected_job_reruns_dependant(new_pipegraph):
    injection_setup(("1", "2"))
    ppg.run()
    assert read("out/z") == "page_1,page_2"
    new_pipegraph.new_pipegraph()
    injection, z = injection_setup(("1", "2", "3"))
    ppg.run()
    assert z.was_run
    assert read("out/z") == "page_1,page_2,page_3"
    assert runs("out/page_1.count") == 1 and runs("out/page_3.count") == 1


def test_injection_changed_injected_output_reruns_dependant(new_pipegraph):
    def build(text):
        def inject():
            page = ppg.FileGeneratingJob("out/page", lambda of: Path(of).write_text(text) and None)
            page.ignore_code_changes()
            page.depends_on(ppg.ParameterInvariant("page", text))
            return [page]

        def make_z(of):
            append("out/z.count", "x")
            Path(of).write_text(read("out/page").upper())

        injection = ppg.DependencyInjectionJob("inject", inject)
        return ppg.FileGeneratingJob("out/z", make_z).depends_on(injection)

    build("one")
    ppg.run()
    new_pipegraph.new_pipegraph()
    z = build("two")
    ppg.run()
    assert z.was_run and read("out/z") == "TWO"
    new_pipegraph.new_pipegraph()
    z = build("two")
    ppg.run()
    assert not z.was_run and runs("out/z.count") == 2


def test_injected_job_function_change_reruns_it_and_dependant(new_pipegraph):
    def build(suffix):
        def inject():
            def make_page(of):
                Path(of).write_text("page" + suffix)

            return ppg.FileGeneratingJob("out/page", make_page)

        def make_z(of):
            append("out/z.count", "x")
            Path(of).write_text(read("out/page") + "!")

        injection = ppg.DependencyInjectionJob("inject", inject)
        return ppg.FileGeneratingJob("out/z", make_z).depends_on(injection)

    build("1")
    ppg.run()
    new_pipegraph.new_pipegraph()
    z = build("2")
    ppg.run()
    assert z.was_run and read("out/z") == "page2!"
    assert graph_job("out/page").was_run


def test_injection_returning_existing_job(new_pipegraph):
    def make_page(of):
        time.sleep(0.2)
        Path(of).write_text("page")

    page = ppg.FileGeneratingJob("out/page", make_page)
    injection = ppg.DependencyInjectionJob("inject", lambda: [page])
    z = ppg.FileGeneratingJob("out/z", lambda of: Path(of).write_text(read("out/page") + "!") and None)
    z.depends_on(injection)
    ppg.run()
    assert not injection.failed
    assert read("out/z") == "page!"


def test_injection_via_depends_on_inside_callback(new_pipegraph):
    z_holder = {}

    def inject():
        page = ppg.FileGeneratingJob("out/page", write_named)
        z_holder["z"].depends_on(page)

    injection = ppg.DependencyInjectionJob("inject", inject)
    z = ppg.FileGeneratingJob("out/z", lambda of: Path(of).write_text(read("out/page") + "!") and None)
    z.depends_on(injection)
    z_holder["z"] = z
    ppg.run()
    assert read("out/z") == "page!"


def test_injection_into_non_dependant_is_contract_error(new_pipegraph):
    outsider = ppg.FileGeneratingJob("out/outsider", lambda of: Path(of).write_text("o") and None)

    def inject():
        page = ppg.FileGeneratingJob("out/page", write_named)
        outsider.depends_on(page)
        return [page]

    injection = ppg.DependencyInjectionJob("inject", inject)
    z = ppg.FileGeneratingJob("out/z", lambda of: Path(of).write_text("z") and None).depends_on(injection)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert injection.failed
    assert isinstance(injection.exception, ppg.JobContractError)
    assert z.failed and not z.was_run
    assert outsider.was_run


def test_injection_check_can_be_disabled(new_pipegraph):
    def inject():
        page = ppg.FileGeneratingJob("out/page", write_named)
        graph_job("out/outsider").depends_on(page)

    injection = ppg.DependencyInjectionJob("inject", inject, check_for_dependency_injections=False)
    outsider = ppg.FileGeneratingJob("out/outsider", lambda of: Path(of).write_text("o") and None)
    outsider.depends_on(ppg.FileGeneratingJob("out/slow", lambda of: time.sleep(0.2) or Path(of).write_text("s") and None))
    ppg.FileGeneratingJob("out/z", lambda of: Path(of).write_text("z") and None).depends_on(injection)
    ppg.run()
    assert not injection.failed
    assert read("out/page") == "page" and outsider.was_run


def test_injection_depends_on_upstream_output(new_pipegraph):
    """The README's example: A lists pages, C injects one job per page, Z combines them."""
    Path("names.txt").write_text("1 2")

    def make_listing(of):
        Path(of).write_text(read("names.txt"))

    def inject():
        return [ppg.FileGeneratingJob(f"out/page_{n}", write_named) for n in read("out/listing").split()]

    def combine(of):
        Path(of).write_text(",".join(read(f"out/page_{n}") for n in read("out/listing").split()))

    listing = ppg.FileGeneratingJob("out/listing", make_listing)
    injection = ppg.DependencyInjectionJob("inject", inject).depends_on(listing)
    ppg.FileGeneratingJob("out/z", combine).depends_on(injection, listing)
    ppg.run()
    assert read("out/z") == "page_1,page_2"


# --- FinalJob --------------------------------------------------------------------------


def test_final_job_runs_after_everything_every_run(new_pipegraph):
    def build():
        def slow(of):
            time.sleep(0.2)
            Path(of).write_text("slow")

        ppg.FileGeneratingJob("out/slow", slow)
        ppg.FileGeneratingJob("out/quick", lambda of: Path(of).write_text("quick") and None)

        def final():
            append("out/final.log", f"{os.path.exists('out/slow')}{os.path.exists('out/quick')};")

        return ppg.FinalJob("final", final)

    final = build()
    ppg.run()
    assert final.was_run
    assert read("out/final.log") == "TrueTrue;"
    new_pipegraph.new_pipegraph()
    final = build()
    ppg.run()
    assert final.was_run
    assert read("out/final.log") == "TrueTrue;TrueTrue;"


def test_final_job_runs_after_generated_jobs(new_pipegraph):
    def generate():
        def slow(of):
            time.sleep(0.2)
            Path(of).write_text("generated")

        ppg.FileGeneratingJob("out/generated", slow)

    ppg.JobGeneratingJob("gen", generate)
    ppg.FinalJob("final", lambda: append("out/final.log", str(os.path.exists("out/generated"))))
    ppg.run()
    assert read("out/final.log") == "True"


def test_final_job_cannot_have_dependencies(new_pipegraph):
    final = ppg.FinalJob("final", lambda: None)
    other = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("a") and None)
    with pytest.raises(ppg.JobContractError):
        final.depends_on(other)
    with pytest.raises(ppg.JobContractError):
        final.depends_on(ppg.ParameterInvariant("p", 1))


def test_nothing_can_depend_on_final_job(new_pipegraph):
    final = ppg.FinalJob("final", lambda: None)
    other = ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("a") and None)
    with pytest.raises(ppg.JobContractError):
        other.depends_on(final)
    loader = ppg.DataLoadingJob("load", lambda: None)
    with pytest.raises(ppg.JobContractError):
        loader.depends_on([final])


# --- prune -------------------------------------------------------------------------------


def test_pruned_generator_generates_nothing(new_pipegraph):
    Path("names.txt").write_text("a b")
    gen = generator_from_file()
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    gen.prune()
    ppg.run()
    assert other.was_run
    assert not gen.was_run
    assert runs("out/gen.count") == 0
    assert not os.path.exists("out/a") and "out/a" not in ppg.util.global_pipegraph.jobs


def test_pruned_injection_job_prunes_dependants(new_pipegraph):
    injection, z = injection_setup()
    injection.prune()
    ppg.run()
    assert not injection.was_run and not z.was_run
    assert runs("out/inject.count") == 0
    assert not os.path.exists("out/z") and not os.path.exists("out/page_1")


SCRIPT_WITH_LATE_LOADER = '''
import pypipegraph as ppg
from pathlib import Path
ppg.new_pipegraph(quiet=True)
DATA = {}

def load_late():
    DATA["late"] = "loaded after the generator ran"

late = ppg.DataLoadingJob("late", load_late)

def generate():
    for name in ["x", "y"]:
        def work(of, name=name):
            Path(of).write_text(name + ": " + DATA["late"])
        ppg.FileGeneratingJob("out/" + name, work).depends_on(late)

ppg.JobGeneratingJob("gen", generate)
ppg.run()
'''


def test_generated_callbacks_in_the_script_see_its_real_globals(new_pipegraph):
    """Jobs generated by a script's own functions read module-level data that a loader
    fills later: the callbacks must use the script's globals, not a copy."""
    import subprocess
    import sys
    from pathlib import Path

    Path("script.py").write_text(SCRIPT_WITH_LATE_LOADER)
    proc = subprocess.run([sys.executable, "script.py"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert Path("out/x").read_text() == "x: loaded after the generator ran"
    assert Path("out/y").read_text() == "y: loaded after the generator ran"


# --- where generating jobs run (issue 14: in the master, as in 0.197) -----------------


def test_generator_changes_master_objects_that_later_jobs_see(new_pipegraph):
    """The callback runs in the master: an attribute it sets is read by jobs started
    afterwards (in workers forked after it ran), also by jobs that existed before."""

    class Settings:
        mode = "default"

    settings = Settings()
    existing = ppg.FileGeneratingJob("out/existing", lambda of: Path(of).write_text(settings.mode) and None)

    def generate():
        settings.mode = "set by the generator"
        print("generator says hello")
        ppg.FileGeneratingJob("out/new", lambda of: Path(of).write_text(settings.mode) and None)

    gen = ppg.JobGeneratingJob("gen", generate)
    existing.depends_on(gen)
    ppg.run()
    assert settings.mode == "set by the generator"  # the master's own object changed
    assert read("out/existing") == read("out/new") == "set by the generator"
    assert gen.stdout == "generator says hello\n"  # captured, as a worker's output was


def test_failing_generator_keeps_its_traceback_and_leaves_the_graph_as_before(new_pipegraph):
    keep = ppg.FileGeneratingJob("out/keep", lambda of: Path(of).write_text("k") and None)

    def generate():
        ppg.FileGeneratingJob("out/half", write_named).depends_on(keep)
        raise KeyError("no such sample")

    gen = ppg.JobGeneratingJob("gen", generate)
    below = ppg.FileGeneratingJob("out/below", write_named).depends_on(gen)
    edges = EdgesAtEnd()
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert isinstance(gen.exception, KeyError)
    assert below.failed and below.error_reason == "Indirect"
    graph = ppg.util.global_pipegraph
    assert "out/half" not in graph.jobs and "out/half" not in graph.outputs
    assert edges.dependants["out/keep"] == set()  # the edge to the discarded job is gone
    assert "no such sample" in read("logs/ppg_errors.txt")


def test_injection_returning_a_job_it_also_injected_by_hand_runs_the_dependant(new_pipegraph):
    """0.197 bug fixed: returned and injected with depends_on, the dependant still runs."""
    holder = {}

    def inject():
        page = ppg.FileGeneratingJob("out/page", write_named)
        holder["z"].depends_on(page)
        return [page]

    injection = ppg.DependencyInjectionJob("inject", inject)
    holder["z"] = ppg.FileGeneratingJob("out/z", lambda of: Path(of).write_text(read("out/page")) and None)
    holder["z"].depends_on(injection)
    ppg.run()
    assert holder["z"].was_run and read("out/z") == "page"
