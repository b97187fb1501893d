"""Warnings for the user that do not stop anything: one place that says them.

Invariant: a notice goes to the `pypipegraph` logger and to stderr (the logger may lead
nowhere), with control characters and undecodable bytes escaped (safe_files.shown), and
saying it never raises: a closed or full stderr does not take a run down.
"""

from __future__ import annotations

import logging
import sys

from .safe_files import shown

_logger = logging.getLogger("pypipegraph")


def warn(text: str) -> None:
    """Say `text` as `pypipegraph: warning: ...` on stderr and on the logger."""
    text = shown(text, lines=True)
    _logger.warning("%s", text)
    try:
        print(f"pypipegraph: warning: {text}", file=sys.stderr)
    except (OSError, ValueError):
        pass
