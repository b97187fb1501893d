"""kill -9 of the master: 5 trials here; `python tests/kill_trials.py --trials 50` for more."""

import kill_trials


def test_kill_minus_nine_trials(capsys):
    assert kill_trials.main(["--trials", "5", "--jobs", "500"]) == 0, capsys.readouterr().out
