"""Function changes one level down: helpers and constants in the user's own modules."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = '''
import json
SCALE = {scale}
NAMES = ("a", "b")
CONFIG = {{"mutable": "dicts are not watched"}}


def double(x):
    """Double it."""
    return {body}


def describe(x):
    return "value " + str(double(x) * SCALE)
'''

SCRIPT = '''
from pathlib import Path
import pypipegraph as ppg
import helpers

ppg.new_pipegraph(quiet=True)
Path("out").mkdir(exist_ok=True)

def work(of):
    with open("out/count", "a") as fh:
        fh.write("x")
    Path(of).write_text(helpers.describe(21) + " " + ",".join(helpers.NAMES))

def uses_json(of):
    import json as j
    Path(of).write_text(j.dumps({"a": 1}))

ppg.FileGeneratingJob("out/result", work)
ppg.FileGeneratingJob("out/json", uses_json)
ppg.run_pipegraph()
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pipeline.py").write_text(SCRIPT)
    write_helpers()
    run()
    return tmp_path


def write_helpers(scale=1, body="x * 2"):
    Path("helpers.py").write_text(HELPERS.format(scale=scale, body=body))


def run():
    proc = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr


def runs():
    return len(Path("out/count").read_text())


def test_unchanged_helpers_do_not_rerun(project):
    run()
    assert runs() == 1
    assert Path("out/result").read_text() == "value 42 a,b"


def test_changed_helper_body_reruns(project):
    write_helpers(body="x * 3")
    run()
    assert runs() == 2
    assert Path("out/result").read_text() == "value 63 a,b"


def test_changed_module_constant_reruns(project):
    write_helpers(scale=10)
    run()
    assert runs() == 2
    assert Path("out/result").read_text() == "value 420 a,b"


def test_helper_comment_docstring_and_formatting_do_not_rerun(project):
    text = HELPERS.format(scale=1, body="x * 2")
    text = text.replace('"""Double it."""', '"""Double the value (documented better)."""')
    text = text.replace("    return x * 2", "    # a comment\n\n    return (x *\n            2)")
    Path("helpers.py").write_text(text)
    run()
    assert runs() == 1


def test_mutable_globals_and_stdlib_do_not_count(project):
    text = HELPERS.format(scale=1, body="x * 2").replace("dicts are not watched", "changed")
    Path("helpers.py").write_text(text)
    run()
    assert runs() == 1


def test_installed_package_counts_by_version():
    import xxhash

    from pypipegraph.hashing import function_fingerprint
    from pypipegraph.plumbing.modules import is_user_module, package_version

    assert not is_user_module("xxhash") and not is_user_module("json")
    assert is_user_module("__main__")
    assert package_version("xxhash") == f"xxhash=={xxhash.VERSION}"
    assert package_version("json") is None

    def uses_xxhash():
        return xxhash.xxh3_64_intdigest(b"")

    assert function_fingerprint(uses_xxhash) == function_fingerprint(uses_xxhash)


DIAMOND = '''
def leaf(x):
    return x + 1

def helper_a(x):
    return leaf(x) * 2

def helper_b(x):
    return leaf(x) * 3

def job_one():
    return helper_a(1)

def job_two():
    return helper_a(1) + helper_b(2)

def ping(n):
    return pong(n - 1) if n else 0

def pong(n):
    return ping(n - 1) if n else 1
'''


def test_fingerprints_do_not_depend_on_what_was_fingerprinted_before(tmp_path, monkeypatch):
    """A helper reached twice (a diamond) or through recursion counts the same whatever
    was hashed first."""
    import importlib

    from pypipegraph.hashing import forget_global_values, function_fingerprint

    (tmp_path / "diamond_helpers.py").write_text(DIAMOND)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("diamond_helpers")
    forget_global_values()
    alone = function_fingerprint(module.job_two), function_fingerprint(module.pong)
    forget_global_values()
    function_fingerprint(module.job_one)
    function_fingerprint(module.ping)
    after_others = function_fingerprint(module.job_two), function_fingerprint(module.pong)
    assert alone == after_others
