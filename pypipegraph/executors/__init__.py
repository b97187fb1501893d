"""Where jobs' code runs: forked local workers (more executors plug in here)."""
