"""0.197's command-line helpers (`pypipegraph.utils.*`), working on this version's store.

Invariant: read-only unless asked (`filter_job_from_status --do-it`); every helper
has a `main(argv)` returning an exit code and can be run with `python -m`.
"""
