"""Invariants and reruns across graphs in one directory (API.md: "Invariants")."""

import os
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


def write(filename, text):
    with open(filename, "w") as fh:
        fh.write(text)


def counted(filename="out/a", text="x"):
    """A FileGeneratingJob callback that counts its runs in out/count (same code every time)."""

    def work():
        append("out/count", "x")
        write(filename, text)

    return work


def counting_job(*invariants, filename="out/a"):
    job = ppg.FileGeneratingJob(filename, counted(filename))
    job.depends_on(*invariants)
    return job


def bump_mtime(filename, seconds=100):
    st = os.stat(filename)
    os.utime(filename, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


# --- ParameterInvariant ------------------------------------------------------------


def test_parameter_invariant(new_pipegraph):
    job = counting_job(ppg.ParameterInvariant("out/a", (1, "two")))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 1

    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.ParameterInvariant("out/a", (1, "two")))
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1

    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.ParameterInvariant("out/a", (1, "three")))
    ppg.run_pipegraph()
    assert job.was_run
    assert job.was_invalidated
    assert runs("out/count") == 2

    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.ParameterInvariant("out/a", (1, "three")))
    ppg.run_pipegraph()
    assert runs("out/count") == 2


def test_parameter_invariant_id_prefix(new_pipegraph):
    inv = ppg.ParameterInvariant("abc", 1)
    assert inv.job_id == "PIabc"


def test_parameter_invariant_dict_params(new_pipegraph):
    counting_job(ppg.ParameterInvariant("p", {"a": 1, "b": [1, 2]}))
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    counting_job(ppg.ParameterInvariant("p", {"b": [1, 2], "a": 1}))
    ppg.run_pipegraph()
    assert runs("out/count") == 1
    new_pipegraph.new_pipegraph()
    counting_job(ppg.ParameterInvariant("p", {"a": 1, "b": [1, 3]}))
    ppg.run_pipegraph()
    assert runs("out/count") == 2


def test_accept_as_unchanged_true(new_pipegraph):
    def accept(old):
        return True

    counting_job(ppg.ParameterInvariant("p", (1,), accept_as_unchanged_func=accept))
    ppg.run_pipegraph()
    assert runs("out/count") == 1

    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.ParameterInvariant("p", (2,), accept_as_unchanged_func=accept))
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1


def test_accept_as_unchanged_false(new_pipegraph):
    def reject(old):
        return False

    counting_job(ppg.ParameterInvariant("p", (1,), accept_as_unchanged_func=reject))
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.ParameterInvariant("p", (2,), accept_as_unchanged_func=reject))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2


# --- file invariants -------------------------------------------------------------

FILE_INVARIANTS = [
    ppg.FileInvariant,
    ppg.FileChecksumInvariant,
    ppg.FileTimeInvariant,
    ppg.RobustFileChecksumInvariant,
]


@pytest.mark.parametrize("cls", FILE_INVARIANTS, ids=lambda c: c.__name__)
def test_file_invariant(new_pipegraph, cls):
    write("input.txt", "hello")
    job = counting_job(cls("input.txt"))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 1

    # unchanged
    new_pipegraph.new_pipegraph()
    job = counting_job(cls("input.txt"))
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1

    # touched, same content
    bump_mtime("input.txt")
    new_pipegraph.new_pipegraph()
    job = counting_job(cls("input.txt"))
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1

    # still not after the touch was recorded
    new_pipegraph.new_pipegraph()
    job = counting_job(cls("input.txt"))
    ppg.run_pipegraph()
    assert runs("out/count") == 1

    # content changed, same size
    write("input.txt", "HELLO")
    bump_mtime("input.txt", 200)
    new_pipegraph.new_pipegraph()
    job = counting_job(cls("input.txt"))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2

    # content changed, other size
    write("input.txt", "hello world")
    new_pipegraph.new_pipegraph()
    job = counting_job(cls("input.txt"))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 3


def test_file_invariant_path_id(new_pipegraph):
    write("input.txt", "hello")
    inv = ppg.FileInvariant(Path("input.txt"))
    assert inv.job_id == "input.txt"
    counting_job(inv)
    ppg.run_pipegraph()
    assert runs("out/count") == 1


def test_multi_file_invariant(new_pipegraph):
    write("in1.txt", "one")
    write("in2.txt", "two")

    def build():
        return counting_job(ppg.MultiFileInvariant(["in1.txt", "in2.txt"]))

    build()
    ppg.run_pipegraph()
    assert runs("out/count") == 1

    new_pipegraph.new_pipegraph()
    job = build()
    ppg.run_pipegraph()
    assert not job.was_run

    bump_mtime("in1.txt")
    bump_mtime("in2.txt")
    new_pipegraph.new_pipegraph()
    job = build()
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1

    write("in2.txt", "TWO")
    bump_mtime("in2.txt", 200)
    new_pipegraph.new_pipegraph()
    job = build()
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2


def test_multi_file_invariant_bare_string(new_pipegraph):
    with pytest.raises(TypeError):  # 0.197's type
        ppg.MultiFileInvariant("in1.txt")


# --- FunctionInvariant (implicit, on FileGeneratingJob callbacks) -------------------


def test_changed_callback_reruns(new_pipegraph):
    def a1(of):
        append("out/count", "x")
        write(of, "1")

    ppg.FileGeneratingJob("out/a", a1)
    ppg.run_pipegraph()
    assert read("out/a") == "1"

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", a1)
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1

    def a2(of):
        append("out/count", "x")
        write(of, "2")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", a2)
    ppg.run_pipegraph()
    assert job.was_run
    assert read("out/a") == "2"
    assert runs("out/count") == 2


def test_changed_callback_reruns_downstream(new_pipegraph):
    def a1(of):
        write(of, "1")

    def b(of):
        append("out/count", "x")
        write(of, read("out/a") + "b")

    ppg.FileGeneratingJob("out/b", b).depends_on(ppg.FileGeneratingJob("out/a", a1))
    ppg.run_pipegraph()

    def a2(of):
        write(of, "2")

    new_pipegraph.new_pipegraph()
    ppg.FileGeneratingJob("out/b", b).depends_on(ppg.FileGeneratingJob("out/a", a2))
    ppg.run_pipegraph()
    assert read("out/b") == "2b"
    assert runs("out/count") == 2


def test_docstring_change_does_not_rerun(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "1")

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()

    def work(of):  # noqa: F811 - the same callback with a docstring
        """Now documented."""
        append("out/count", "x")
        write(of, "1")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1


def test_docstring_edit_does_not_rerun(new_pipegraph):
    def work(of):
        """First docstring."""
        append("out/count", "x")
        write(of, "1")

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()

    def work(of):  # noqa: F811
        """A completely different docstring."""
        append("out/count", "x")
        write(of, "1")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1


def test_line_position_does_not_rerun(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "1")

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()

    # same function, defined further down and with blank lines inside

    def work(of):  # noqa: F811

        append("out/count", "x")

        write(of, "1")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1


def test_comment_change_does_not_rerun(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "1")

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()

    def work(of):  # noqa: F811
        # a comment
        append("out/count", "x")
        write(of, "1")  # another

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert not job.was_run


def test_arguments_split_over_lines_do_not_rerun(new_pipegraph):
    """Python 3.13 compiles two locals read on one line into one instruction, on two lines
    into two: the same code either way."""
    def work(of):
        text, suffix = "1", "2"
        write(of, text + suffix)
        append("out/count", "x")

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()

    def work(of):  # noqa: F811
        text, suffix = "1", "2"
        write(of, text +
              suffix)
        append("out/count", "x")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert not job.was_run


def test_constant_change_reruns(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "1" * 3)

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()

    def work(of):  # noqa: F811
        append("out/count", "x")
        write(of, "1" * 4)

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert job.was_run
    assert read("out/a") == "1111"


def test_closure_value_change_reruns(new_pipegraph):
    def make(value):
        def work(of):
            append("out/count", "x")
            write(of, value)

        return work

    ppg.FileGeneratingJob("out/a", make("1"))
    ppg.run_pipegraph()

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", make("1"))
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", make("2"))
    ppg.run_pipegraph()
    assert job.was_run
    assert read("out/a") == "2"
    assert runs("out/count") == 2


def test_default_argument_change_reruns(new_pipegraph):
    def work(of, value="1"):
        append("out/count", "x")
        write(of, value)

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert read("out/a") == "1"

    def work(of, value="1"):  # noqa: F811
        append("out/count", "x")
        write(of, value)

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert not job.was_run

    def work(of, value="2"):  # noqa: F811
        append("out/count", "x")
        write(of, value)

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert job.was_run
    assert read("out/a") == "2"
    assert runs("out/count") == 2


def test_ignore_code_changes(new_pipegraph):
    def a1(of):
        append("out/count", "x")
        write(of, "1")

    job = ppg.FileGeneratingJob("out/a", a1)
    job.ignore_code_changes()
    ppg.run_pipegraph()

    def a2(of):
        append("out/count", "x")
        write(of, "2")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", a2)
    job.ignore_code_changes()
    ppg.run_pipegraph()
    assert not job.was_run
    assert read("out/a") == "1"
    assert runs("out/count") == 1


# --- FunctionInvariant (explicit) -------------------------------------------------


def test_function_invariant_explicit(new_pipegraph):
    def f1():
        return 1

    counting_job(ppg.FunctionInvariant("f", f1))
    ppg.run_pipegraph()

    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.FunctionInvariant("f", f1))
    ppg.run_pipegraph()
    assert not job.was_run

    def f2():
        return 2

    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.FunctionInvariant("f", f2))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2


def test_function_invariant_two_functions_one_id(new_pipegraph):
    def f1():
        return 1

    def f2():
        return 2

    ppg.FunctionInvariant("f", f1)
    with pytest.raises(ValueError):
        ppg.FunctionInvariant("f", f2)


def test_function_invariant_same_function_twice(new_pipegraph):
    def f1():
        return 1

    a = ppg.FunctionInvariant("f", f1)
    b = ppg.FunctionInvariant("f", f1)
    assert a is b


def test_function_invariant_builtin(new_pipegraph):
    counting_job(ppg.FunctionInvariant("x", print))
    ppg.run_pipegraph()
    assert runs("out/count") == 1
    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.FunctionInvariant("x", print))
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1


def test_function_invariant_builtin_changed(new_pipegraph):
    counting_job(ppg.FunctionInvariant("x", print))
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.FunctionInvariant("x", len))
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2


# --- invariants cannot depend on anything -------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: ppg.ParameterInvariant("p", 1),
        lambda: ppg.FileInvariant("input.txt"),
        lambda: ppg.FunctionInvariant("f", print),
        lambda: ppg.MultiFileInvariant(["input.txt", "input2.txt"]),
    ],
    ids=["param", "file", "function", "multifile"],
)
def test_invariant_cannot_depend(new_pipegraph, make):
    write("input.txt", "x")
    write("input2.txt", "y")
    other = ppg.FileGeneratingJob("out/a", lambda of: write(of, "x"))
    inv = make()
    with pytest.raises(ppg.JobContractError):
        inv.depends_on(other)
        ppg.run_pipegraph()


def test_invariant_cannot_depend_on_invariant(new_pipegraph):
    inv = ppg.ParameterInvariant("p", 1)
    with pytest.raises(ppg.JobContractError):
        inv.depends_on(ppg.ParameterInvariant("q", 2))
        ppg.run_pipegraph()



def test_an_invariant_raising_ends_the_run_with_its_own_exception(new_pipegraph):
    """0.197 checked invariants before running anything and let the error escape
    run_pipegraph(): a missing input file is a FileNotFoundError, nothing runs."""
    Path("in.txt").write_text("x")
    job = counting_job(ppg.FileInvariant("in.txt"))
    ppg.run_pipegraph()
    os.unlink("in.txt")
    new_pipegraph.new_pipegraph()
    job = counting_job(ppg.FileInvariant("in.txt"))
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    with pytest.raises(FileNotFoundError) as caught:
        ppg.run_pipegraph()
    assert "in.txt" in "\n".join(getattr(caught.value, "__notes__", []))
    assert not job.failed and not other.was_run and not os.path.exists("out/other")


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_moved_input_files_do_not_rerun(new_pipegraph, kind):
    """RobustFileChecksumInvariant / MultiFileInvariant (0.197): the same files (names, sizes,
    content) in another directory are not a change; changed content still is."""
    for directory in ("old", "new"):
        os.makedirs(directory)
    Path("old/a.txt").write_text("A")
    Path("old/b.txt").write_text("B")

    def build(directory):
        if kind == "single":
            invariant = ppg.RobustFileChecksumInvariant(f"{directory}/a.txt")
        else:
            invariant = ppg.MultiFileInvariant([f"{directory}/a.txt", f"{directory}/b.txt"])
        return counting_job(invariant)

    build("old")
    ppg.run_pipegraph()
    os.rename("old/a.txt", "new/a.txt")
    os.rename("old/b.txt", "new/b.txt")
    new_pipegraph.new_pipegraph()
    job = build("new")
    ppg.run_pipegraph()
    assert not job.was_run and runs("out/count") == 1
    assert "input files moved (" in read("logs/ppg_run.txt")
    new_pipegraph.new_pipegraph()
    job = build("new")
    ppg.run_pipegraph()  # the move was recorded: still nothing to do
    assert not job.was_run
    Path("new/a.txt").write_text("changed")
    new_pipegraph.new_pipegraph()
    job = build("new")
    ppg.run_pipegraph()
    assert job.was_run and runs("out/count") == 2
