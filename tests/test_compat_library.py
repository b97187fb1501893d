"""The library-style test module (tests/compat_lib) passes under pypipegraph 0.197 and ours.

It subclasses ppg.Job with a custom invariant raising NothingChanged, calls
assert_uniqueness_of_object in its constructors and uses pypipegraph.testing.fixtures.
Under ours it is also collected by the main test run; here it runs in a separate
pytest process per engine, so the fixtures' directories and hooks work as in a library.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from compat_harness import reference_python

LIB = Path(__file__).resolve().parent / "compat_lib"


def run_library_tests(python: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--rootdir={LIB}", f"--confcutdir={LIB}", str(LIB)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("engine", ["0.197", "ours"])
def test_library_suite(tmp_path, engine):
    python = sys.executable if engine == "ours" else reference_python()
    if python is None:
        pytest.skip("pypipegraph 0.197 not installed")
    if engine != "ours" and subprocess.run([python, "-c", "import pytest"]).returncode:
        pytest.skip("pytest missing in the reference interpreter")
    done = run_library_tests(python, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    assert not (LIB / "run").exists() or not any((LIB / "run").iterdir())  # passing tests clean up
