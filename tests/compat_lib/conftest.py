"""The fixtures of pypipegraph.testing.fixtures, imported the way the mbf_* libraries do."""

from pypipegraph.testing.fixtures import (  # noqa: F401
    both_ppg_and_no_ppg,
    new_pipegraph,
    no_pipegraph,
    pytest_runtest_makereport,
)


def pytest_generate_tests(metafunc):
    if "both_ppg_and_no_ppg" in metafunc.fixturenames:
        metafunc.parametrize("both_ppg_and_no_ppg", [True, False], indirect=True)
