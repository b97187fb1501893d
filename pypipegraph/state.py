"""The process's current graph and mode, read by every part of the engine.

Invariant: three values and nothing else; this module imports nothing of the engine, so
any module may read it. 0.197's `ppg.util.global_pipegraph` (and `is_worker`,
`plan_mode`) read and write these very values.

    >>> from pypipegraph import state
    >>> state.global_pipegraph is None   # before ppg.new_pipegraph()
    True
"""

from __future__ import annotations

from typing import Any

global_pipegraph: Any = None  # the current graph; jobs register with it when created

is_worker = False  # True in a job's process, so code can tell it runs inside a job

plan_mode = False  # set by `ppg why/graph/accept`: run_pipegraph() prepares the graph and stops
