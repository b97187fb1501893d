"""The exception classes under pypipegraph 0.197's module name (`pypipegraph.ppg_exceptions`).

Invariant: these are the very classes of `pypipegraph.errors`; this module only
re-exports them, so `except ppg.ppg_exceptions.X` and `except ppg.X` catch the same.
"""

from .errors import (
    CommunicationFailure,
    CycleError,
    JobContractError,
    JobDiedException,
    NothingChanged,
    PyPipeGraphError,
    RuntimeError,
    RuntimeException,
)

__all__ = [
    "CommunicationFailure",
    "CycleError",
    "JobContractError",
    "JobDiedException",
    "NothingChanged",
    "PyPipeGraphError",
    "RuntimeError",
    "RuntimeException",
]
