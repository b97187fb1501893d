"""Forget jobs' records: `python -m pypipegraph.utils.filter_job_from_status PATTERN [--regex] [--do-it]`.

Lists the matching job ids (exact id, or a regular expression with --regex); only
with --do-it are their records removed, so that those jobs run again.
"""

from __future__ import annotations

import re
import sys

from ..store import DEFAULT_PATH
from ..store.writer import History


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    status = DEFAULT_PATH
    use_regex = "--regex" in args
    do_it = "--do-it" in args
    patterns = [a for a in args if not a.startswith("--")]
    for arg in args:
        if arg.startswith("--status="):
            status = arg.split("=", 1)[1]
    if len(patterns) != 1:
        print("usage: filter_job_from_status JOB_ID_OR_PATTERN [--regex] [--do-it] [--status=FILE]")
        return 1
    pattern = patterns[0]
    with History(status) as history:
        matching = sorted(k for k in history.keys() if (re.search(pattern, k) if use_regex else k == pattern))
        for job_id in matching:
            print(job_id)
            if do_it:
                history.delete(job_id)
        if do_it:
            history.flush(force=True)
    print(f"{len(matching)} record(s) {'removed' if do_it else 'match (pass --do-it to remove them)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
