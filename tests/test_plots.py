"""PlotJob (API.md: "Plots"; docs/plots.md): real forks, real files."""

import os
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

import pypipegraph as ppg  # noqa: E402

from conftest import append, read, runs  # noqa: E402

CACHE = "cache/out/a.png"


# --- calc and plot functions (module level: "editing" one = using another) ---------


def calc():
    append("out/calc", "x")
    return pd.DataFrame({"x": [1, 2, 3], "y": [1, 4, 9]})


def calc_same_result():
    append("out/calc", "x")
    xs = [1, 2, 3]
    return pd.DataFrame({"x": xs, "y": [x * x for x in xs]})


def calc_other_result():
    append("out/calc", "x")
    return pd.DataFrame({"x": [1, 2, 3], "y": [1, 8, 27]})


def calc_dict():
    append("out/calc", "x")
    return {
        "squares": pd.DataFrame({"x": [1, 2], "y": [1, 4]}),
        "cubes": pd.DataFrame({"x": [1, 2], "y": [1, 8]}, index=pd.Index(["a", "b"], name="name")),
    }


def calc_list():
    return [1, 2, 3]


def mpl_plot(df):
    import matplotlib.pyplot as plt

    append("out/plot", "x")
    fig, ax = plt.subplots()
    ax.plot(df["x"], df["y"])
    return fig


def mpl_plot_changed(df):
    import matplotlib.pyplot as plt

    append("out/plot", "x")
    fig, ax = plt.subplots()
    ax.scatter(df["x"], df["y"])
    return fig


def mpl_plot_dict(data):
    import matplotlib.pyplot as plt

    append("out/plot", "x")
    fig, ax = plt.subplots()
    for frame in data.values():
        ax.plot(frame["x"], frame["y"])
    return fig


def p9_plot(df):
    import plotnine as p9

    append("out/plot", "x")
    return p9.ggplot(df, p9.aes("x", "y")) + p9.geom_point()


def not_a_plot(df):
    return "a string"


def define(calc_function=calc, plot_function=mpl_plot, filename="out/a.png", **kwargs):
    return ppg.PlotJob(filename, calc_function, plot_function, **kwargs)


def signature(filename):
    return Path(filename).read_bytes()[:8]


# --- rendering ------------------------------------------------------------------------


def test_matplotlib_png_table_and_cache(new_pipegraph):
    job = define()
    ppg.run_pipegraph()
    assert signature("out/a.png").startswith(b"\x89PNG")
    assert read("out/a.png.tsv") == "x\ty\n1\t1\n2\t4\n3\t9\n"
    assert os.path.exists(CACHE)
    assert runs("out/calc") == 1
    assert runs("out/plot") == 1
    assert job.was_run and job.cache_job.was_run and job.table_job.was_run
    assert job.cache_job.job_id == CACHE
    assert job.table_job.job_id == "out/a.png.tsv"


def test_matplotlib_pdf_and_svg(new_pipegraph):
    define(filename="out/a.pdf")
    define(filename="out/a.svg")
    ppg.run_pipegraph()
    assert signature("out/a.pdf").startswith(b"%PDF")
    assert "<svg" in read("out/a.svg")
    assert runs("out/calc") == 2


def test_plotnine_png_pdf_svg(new_pipegraph):
    pytest.importorskip("plotnine")
    define(plot_function=p9_plot, filename="out/a.png", render_args={"width": 4, "height": 3, "dpi": 50})
    define(plot_function=p9_plot, filename="out/a.pdf")
    define(plot_function=p9_plot, filename="out/a.svg")
    ppg.run_pipegraph()
    assert signature("out/a.png").startswith(b"\x89PNG")
    assert signature("out/a.pdf").startswith(b"%PDF")
    assert "<svg" in read("out/a.svg")
    assert runs("out/plot") == 3


def test_path_filename_and_matplotlib_axes(new_pipegraph):
    def axes_plot(df):
        import matplotlib.pyplot as plt

        return plt.subplots()[1]

    job = ppg.PlotJob(Path("out/a.png"), calc, axes_plot)
    ppg.run_pipegraph()
    assert job.job_id == "out/a.png"
    assert signature("out/a.png").startswith(b"\x89PNG")


def test_identical_plot_renders_identical_bytes(new_pipegraph):
    for name in ("out/a.pdf", "out/a.svg", "out/a.png"):
        define(filename=name)
    ppg.run_pipegraph()
    first = {name: Path(name).read_bytes() for name in ("out/a.pdf", "out/a.svg", "out/a.png")}
    for name in first:
        os.unlink(name)
    new_pipegraph.new_pipegraph()
    for name in first:
        define(filename=name)
    ppg.run_pipegraph()
    for name, content in first.items():
        assert Path(name).read_bytes() == content, name


def test_dict_of_dataframes(new_pipegraph):
    define(calc_dict, mpl_plot_dict)
    ppg.run_pipegraph()
    assert signature("out/a.png").startswith(b"\x89PNG")
    assert read("out/a.png.tsv") == (
        "#squares\nx\ty\n1\t1\n2\t4\n\n#cubes\nname\tx\ty\na\t1\t1\nb\t2\t8\n"
    )


# --- rerun rules ----------------------------------------------------------------------


def test_noop_rerun_runs_nothing(new_pipegraph):
    define()
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = define()
    ppg.run_pipegraph()
    assert not job.was_run and not job.cache_job.was_run and not job.table_job.was_run
    assert runs("out/calc") == 1
    assert runs("out/plot") == 1


def test_changed_plot_function_reruns_only_the_plot(new_pipegraph):
    define()
    ppg.run_pipegraph()
    before = Path("out/a.png").read_bytes()
    new_pipegraph.new_pipegraph()
    job = define(plot_function=mpl_plot_changed)
    ppg.run_pipegraph()
    assert job.was_run
    assert not job.cache_job.was_run and not job.table_job.was_run
    assert runs("out/calc") == 1
    assert runs("out/plot") == 2
    assert Path("out/a.png").read_bytes() != before


def test_changed_calc_same_result_does_not_rerun_plot(new_pipegraph):
    define()
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = define(calc_function=calc_same_result)
    ppg.run_pipegraph()
    assert job.cache_job.was_run
    assert runs("out/calc") == 2
    assert not job.was_run and not job.table_job.was_run
    assert runs("out/plot") == 1


def test_changed_calc_result_reruns_plot_and_table(new_pipegraph):
    define()
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = define(calc_function=calc_other_result)
    ppg.run_pipegraph()
    assert job.cache_job.was_run and job.was_run and job.table_job.was_run
    assert runs("out/calc") == 2
    assert runs("out/plot") == 2
    assert read("out/a.png.tsv") == "x\ty\n1\t1\n2\t8\n3\t27\n"


def test_changed_render_args_rerun_only_the_plot(new_pipegraph):
    define(render_args={"dpi": 50})
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = define(render_args={"dpi": 60})
    ppg.run_pipegraph()
    assert job.was_run and not job.cache_job.was_run
    assert runs("out/plot") == 2
    new_pipegraph.new_pipegraph()
    job = define(render_args={"dpi": 60})
    ppg.run_pipegraph()
    assert not job.was_run


def test_deleted_plot_reruns_only_the_plot(new_pipegraph):
    define()
    ppg.run_pipegraph()
    os.unlink("out/a.png")
    new_pipegraph.new_pipegraph()
    job = define()
    ppg.run_pipegraph()
    assert job.was_run and not job.cache_job.was_run
    assert runs("out/calc") == 1
    assert os.path.exists("out/a.png")


def test_dependencies_are_inputs_of_the_calculation(new_pipegraph):
    Path("input.txt").write_text("1")
    job = define()
    job.depends_on(ppg.FileInvariant("input.txt"))
    assert job.cache_job.is_in_dependency_chain(ppg.util.global_pipegraph.jobs["input.txt"], 1)
    ppg.run_pipegraph()
    Path("input.txt").write_text("2")
    new_pipegraph.new_pipegraph()
    job = define()
    job.depends_on(ppg.FileInvariant("input.txt"))
    ppg.run_pipegraph()
    assert job.cache_job.was_run
    assert runs("out/calc") == 2
    assert not job.was_run  # same data: early cutoff


# --- fiddles and other plots -------------------------------------------------------


def test_add_fiddle(new_pipegraph):
    def title(fig):
        append("out/fiddle", "a")
        fig.suptitle("first")
        return fig

    def in_place(fig):
        append("out/fiddle", "b" if fig._suptitle.get_text() == "first" else "?")

    job = define()
    assert job.add_fiddle(title) is job
    job.add_fiddle(in_place)
    ppg.run_pipegraph()
    assert read("out/fiddle") == "ab"
    assert signature("out/a.png").startswith(b"\x89PNG")


def test_changed_fiddle_reruns_only_the_plot(new_pipegraph):
    def fiddle_1(fig):
        append("out/fiddle", "1")
        return fig

    def fiddle_2(fig):
        append("out/fiddle", "2")
        fig.suptitle("changed")
        return fig

    define().add_fiddle(fiddle_1)
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = define().add_fiddle(fiddle_1)
    ppg.run_pipegraph()
    assert not job.was_run
    new_pipegraph.new_pipegraph()
    job = define().add_fiddle(fiddle_2)
    ppg.run_pipegraph()
    assert job.was_run and not job.cache_job.was_run
    assert read("out/fiddle") == "12"
    assert runs("out/calc") == 1


def test_plotnine_fiddle(new_pipegraph):
    p9 = pytest.importorskip("plotnine")

    def fiddle(plot):
        append("out/fiddle", "x")
        return plot + p9.ggtitle("fiddled")

    define(plot_function=p9_plot, filename="out/a.svg").add_fiddle(fiddle)
    ppg.run_pipegraph()
    assert runs("out/fiddle") == 1
    assert "<svg" in read("out/a.svg")


def test_add_another_plot(new_pipegraph):
    job = define()
    other = job.add_another_plot("out/b.svg", mpl_plot_changed)
    assert isinstance(other, ppg.PlotJob)
    assert other.cache_job is job.cache_job
    assert other.table_job is None
    assert job.add_another_plot("out/b.svg", mpl_plot_changed) is other
    ppg.run_pipegraph()
    assert "<svg" in read("out/b.svg")
    assert runs("out/calc") == 1
    assert runs("out/plot") == 2
    # changing only the other plot's function reruns only it
    new_pipegraph.new_pipegraph()
    job = define()
    other = job.add_another_plot("out/b.svg", mpl_plot)
    ppg.run_pipegraph()
    assert other.was_run and not job.was_run and not job.cache_job.was_run
    assert runs("out/calc") == 1
    # a new calc result reruns both plots
    new_pipegraph.new_pipegraph()
    job = define(calc_function=calc_other_result)
    other = job.add_another_plot("out/b.svg", mpl_plot)
    ppg.run_pipegraph()
    assert job.was_run and other.was_run
    assert runs("out/calc") == 2


def test_add_another_plot_onto_existing_job_is_an_error(new_pipegraph):
    job = define()
    define(filename="out/b.png", skip_table=True, skip_caching=True)
    with pytest.raises(ValueError, match="exists already"):
        job.add_another_plot("out/b.png", mpl_plot)


# --- skip_caching / skip_table ----------------------------------------------------------


def test_skip_caching(new_pipegraph):
    job = define(skip_caching=True, skip_table=True)
    assert job.cache_job is None and job.table_job is None
    ppg.run_pipegraph()
    assert signature("out/a.png").startswith(b"\x89PNG")
    assert not os.path.exists("cache")
    assert not os.path.exists("out/a.png.tsv")
    assert runs("out/calc") == 1
    # calc is watched by the plot job itself
    new_pipegraph.new_pipegraph()
    job = define(calc_same_result, skip_caching=True, skip_table=True)
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/calc") == 2


def test_skip_caching_with_table_and_dependencies(new_pipegraph):
    Path("input.txt").write_text("1")
    job = define(skip_caching=True)
    job.depends_on(ppg.FileInvariant("input.txt"))
    ppg.run_pipegraph()
    assert read("out/a.png.tsv") == "x\ty\n1\t1\n2\t4\n3\t9\n"
    Path("input.txt").write_text("2")
    new_pipegraph.new_pipegraph()
    job = define(skip_caching=True)
    job.depends_on(ppg.FileInvariant("input.txt"))
    ppg.run_pipegraph()
    assert job.was_run and job.table_job.was_run


def test_skip_table(new_pipegraph):
    job = define(skip_table=True)
    assert job.table_job is None
    ppg.run_pipegraph()
    assert not os.path.exists("out/a.png.tsv")
    assert os.path.exists(CACHE)


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["out/a.jpg", "out/a", "out/a.png.txt"])
def test_wrong_suffix(new_pipegraph, filename):
    with pytest.raises(ValueError) as info:
        define(filename=filename)
    message = str(info.value)
    assert filename in message
    for suffix in (".png", ".pdf", ".svg"):
        assert suffix in message
    assert filename not in ppg.util.global_pipegraph.jobs


def test_uppercase_suffix_is_fine(new_pipegraph):
    define(filename="out/A.PNG")
    ppg.run_pipegraph()
    assert signature("out/A.PNG").startswith(b"\x89PNG")


def test_non_callables_and_bad_render_args(new_pipegraph):
    with pytest.raises(TypeError, match="calc_function"):
        ppg.PlotJob("out/a.png", "not callable", mpl_plot)
    with pytest.raises(TypeError, match="plot_function"):
        ppg.PlotJob("out/a.png", calc, None)
    with pytest.raises(TypeError, match="render_args"):
        ppg.PlotJob("out/a.png", calc, mpl_plot, render_args=[1])
    job = define()
    with pytest.raises(TypeError, match="add_fiddle"):
        job.add_fiddle(5)


def test_redefinition(new_pipegraph):
    job = define()
    assert define() is job
    with pytest.raises(ValueError, match="defined twice"):
        define(plot_function=mpl_plot_changed)
    with pytest.raises(ValueError):
        ppg.FileGeneratingJob("out/a.png", lambda of: None)


def test_calc_returning_non_dataframe(new_pipegraph):
    job = define(calc_list)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.cache_job.exception, ppg.JobContractError)
    assert "out/a.png" in str(job.cache_job.exception)
    assert "DataFrame" in str(job.cache_job.exception)
    assert job.failed and job.error_reason == "Indirect"
    assert not os.path.exists(CACHE)
    assert not os.path.exists("out/a.png")


def test_calc_returning_non_dataframe_skip_caching(new_pipegraph):
    job = define(calc_list, skip_caching=True)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ppg.JobContractError)
    assert "out/a.png" in str(job.exception)
    assert not os.path.exists("out/a.png")


def test_dict_with_non_dataframe_value(new_pipegraph):
    job = define(lambda: {"a": pd.DataFrame({"x": [1]}), "b": 5})
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.cache_job.exception, ppg.JobContractError)
    assert "'b'" in str(job.cache_job.exception)


def test_plot_function_returning_non_plot(new_pipegraph):
    job = define(plot_function=not_a_plot)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ppg.JobContractError)
    assert "out/a.png" in str(job.exception)
    assert not job.cache_job.failed
    assert not os.path.exists("out/a.png")


def test_plot_job_from_job_generating_job(new_pipegraph):
    def generate():
        define().add_another_plot("out/b.pdf", mpl_plot_changed)

    ppg.JobGeneratingJob("gen", generate)
    ppg.run_pipegraph()
    assert signature("out/a.png").startswith(b"\x89PNG")
    assert signature("out/b.pdf").startswith(b"%PDF")
    assert runs("out/calc") == 1
    new_pipegraph.new_pipegraph()
    ppg.JobGeneratingJob("gen", generate)
    ppg.run_pipegraph()
    assert runs("out/calc") == 1
    assert runs("out/plot") == 2


def test_missing_output_directory_is_created(new_pipegraph):
    define(filename="results/plots/a.svg")
    ppg.run_pipegraph()
    assert "<svg" in read("results/plots/a.svg")
    assert os.path.exists("results/plots/a.svg.tsv")
    assert os.path.exists("cache/results/plots/a.svg")


def test_deleted_cache_recalculates_without_redrawing(new_pipegraph):
    define()
    ppg.run_pipegraph()
    os.unlink(CACHE)
    new_pipegraph.new_pipegraph()
    job = define()
    ppg.run_pipegraph()
    assert job.cache_job.was_run and not job.was_run and not job.table_job.was_run
    assert runs("out/calc") == 2
    assert runs("out/plot") == 1
