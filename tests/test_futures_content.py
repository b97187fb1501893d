"""Work function calls keyed by content (reverting an input does not recompute), the
opt-in shared result cache and what it refuses to trust, and scheduling on @ppg.work."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import Order, append, runs


@ppg.work
def word_count(path: Path):
    append("out/word_count.runs", "x")
    return len(path.read_text().split())


@ppg.work
def double(n):
    append("out/double.runs", "x")
    return 2 * n


def count_words(graphs, text: str, **options):
    Path("input.txt").write_text(text)
    graphs.new_pipegraph(**options)
    result = double(word_count(Path("input.txt")))
    ppg.run_pipegraph()
    return result


def test_reverting_an_input_file_reuses_the_earlier_result(new_pipegraph):
    assert count_words(new_pipegraph, "a b c").value() == 6
    assert count_words(new_pipegraph, "a b c d").value() == 8
    assert (runs("out/word_count.runs"), runs("out/double.runs")) == (2, 2)
    reverted = count_words(new_pipegraph, "a b c")  # back to the first content
    assert reverted.value() == 6
    assert (runs("out/word_count.runs"), runs("out/double.runs")) == (2, 2)
    assert "result reused by content key" in reverted.job.stdout


def test_a_second_project_gets_the_result_from_the_shared_cache(new_pipegraph, tmp_path_factory,
                                                                monkeypatch):
    shared = tmp_path_factory.mktemp("shared_cache")
    assert count_words(new_pipegraph, "one two", result_cache=shared).value() == 4
    counted = Path("out").resolve()
    other = tmp_path_factory.mktemp("second_project")
    monkeypatch.chdir(other)
    os.symlink(counted, "out")  # the counts of both projects in one place
    result = count_words(new_pipegraph, "one two", result_cache=str(shared))
    assert result.value() == 4
    assert (runs("out/word_count.runs"), runs("out/double.runs")) == (1, 1)


def entries(cache_dir: Path, suffix: str) -> list[Path]:
    return sorted(cache_dir.rglob(f"*{suffix}"))


class Planted:
    """A pickle that would create a file when unpickled."""

    def __reduce__(self):
        return (Path("out/PWNED").write_text, ("ran code from the cache",))


def test_a_tampered_or_foreign_cache_entry_is_not_unpickled(new_pipegraph, tmp_path_factory, monkeypatch):
    import pickle

    shared = tmp_path_factory.mktemp("shared_cache")
    count_words(new_pipegraph, "x y z", result_cache=shared)
    monkeypatch.chdir(tmp_path_factory.mktemp("second_project"))
    Path("out").mkdir()
    for data_file in entries(shared, ".pickle"):  # the attacker replaces the results...
        data_file.write_bytes(pickle.dumps(Planted()))
    assert count_words(new_pipegraph, "x y z", result_cache=shared).value() == 6
    assert not Path("out/PWNED").exists() and runs("out/word_count.runs") == 1
    if os.getuid() != 0:
        return
    monkeypatch.chdir(tmp_path_factory.mktemp("third_project"))
    Path("out").mkdir()
    import hashlib
    import json

    planted = pickle.dumps(Planted())
    for data_file, key_file in zip(entries(shared, ".pickle"), entries(shared, ".json"), strict=True):
        data_file.write_bytes(planted)  # ... with a matching hash, but as another user
        key_file.write_text(json.dumps({"key": key_file.stem, "sha256": hashlib.sha256(planted).hexdigest()}))
        os.chown(data_file, 65534, 65534)
        os.chown(key_file, 65534, 65534)
    assert count_words(new_pipegraph, "x y z", result_cache=shared).value() == 6
    assert not Path("out/PWNED").exists() and runs("out/word_count.runs") == 1


def test_an_entry_moved_under_another_key_is_not_used(new_pipegraph, tmp_path_factory, monkeypatch):
    shared = tmp_path_factory.mktemp("shared_cache")
    count_words(new_pipegraph, "p q", result_cache=shared)  # two entries: word_count and double
    (small, small_json), (large, large_json) = sorted(
        zip(entries(shared, ".pickle"), entries(shared, ".json"), strict=True), key=lambda e: e[0].stat().st_size)
    for source, target in ((small, large), (small_json, large_json)):
        target.write_bytes(source.read_bytes())  # valid files of one key, under the other's name
    monkeypatch.chdir(tmp_path_factory.mktemp("second_project"))
    Path("out").mkdir()
    assert count_words(new_pipegraph, "p q", result_cache=shared).value() == 4


def test_extra_upstream_jobs_turn_content_reuse_off(new_pipegraph):
    def define(text):
        Path("input.txt").write_text(text)
        new_pipegraph.new_pipegraph()
        Path("extra.txt").write_text("same")
        future = word_count(Path("input.txt")).depends_on(ppg.FileInvariant("extra.txt"))
        ppg.run_pipegraph()
        return future

    define("a")
    define("a b")
    assert define("a").value() == 1
    assert runs("out/word_count.runs") == 3  # the key would not see extra.txt: no reuse


# --- scheduling arguments on the decorator --------------------------------------------


@ppg.work(cores=2, memory_needed=1 << 20, needs=("db",))
def query(name):
    start = time.time()
    time.sleep(0.3)
    Path(f"out/{name}").write_text(f"{start} {time.time()}")
    return name


def test_the_decorators_scheduling_arguments_apply_to_each_call(new_pipegraph):
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=4),
                                resources={"db": 1})
    order = Order.attach()
    futures = [query(name) for name in ("q1", "q2")]
    job = futures[0].job
    assert (job.cores_needed, job.memory_needed, job.resource_needs) == (2, 1 << 20, {"db": 1})
    ppg.run_pipegraph()
    first, second = (future.job.job_id for future in futures)
    assert ("finished", first) in order.events and ("finished", second) in order.events
    assert not order.overlap(first, second)  # 4 cores would fit both; the db resource does not


@pytest.mark.parametrize("options, match", [
    ({"cores": 0}, "cores"), ({"memory_needed": "4G"}, "memory_needed"), ({"needs": {"db": 0}}, "needs"),
])
def test_bad_scheduling_arguments_fail_at_the_decorator(options, match):
    with pytest.raises(ValueError, match=match):
        ppg.work(**options)
