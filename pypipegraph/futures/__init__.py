"""Futures: `@ppg.work` calls that become jobs, their values, and results shared by content.

`work.py` is the decorator, `future.py` the Future and reading values, `calls.py` the jobs
behind calls, `result_cache.py` the store of results by content key, `crunch.py` the
Arvados Crunch draft's names on top.
"""

from .future import Future
from .work import WorkFunction, work

__all__ = ["Future", "WorkFunction", "work"]
