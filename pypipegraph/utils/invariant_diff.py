"""Show what the store recorded for a job: `python -m pypipegraph.utils.invariant_diff JOB_ID`.

With `--status=FILE` another store is read. For a FunctionInvariant the recorded
source is printed, so it can be compared with the current code.
"""

from __future__ import annotations

import sys

from ..store import DEFAULT_PATH
from ..store.writer import History


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    status = DEFAULT_PATH
    ids = []
    for arg in args:
        if arg.startswith("--status="):
            status = arg.split("=", 1)[1]
        else:
            ids.append(arg)
    if not ids:
        print("usage: invariant_diff JOB_ID [--status=FILE]")
        return 1
    with History(status) as history:
        for job_id in ids:
            record = history.get(job_id)
            if record is None:
                print(f"{job_id}: no record in {status}")
                continue
            print(f"{job_id}: fingerprint {record.fingerprint:016x}")
            print(f"  inputs: {record.inputs}")
            print(f"  outputs: {record.outputs}")
            print(f"  extra: {record.extra!r:.2000}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
