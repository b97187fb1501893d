"""Print the log records a run streams: `python -m pypipegraph.utils.log_listen [PORT]`.

0.197's listener under its module name; the listener itself is the repository's
util/log_listener.py (standard library only, refuses to unpickle classes).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

_LISTENER = Path(__file__).resolve().parents[2] / "util" / "log_listener.py"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not _LISTENER.exists():
        print(f"log listener not found at {_LISTENER} (it ships with the source tree).")
        return 1
    listener = runpy.run_path(str(_LISTENER))
    if args and args[0].isdigit():
        args = ["--port", args[0]] + args[1:]
    return listener["main"](args)


if __name__ == "__main__":
    sys.exit(main())
