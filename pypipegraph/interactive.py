"""0.197's `pypipegraph.interactive` module name.

Invariant: no behaviour of its own. 0.197 ran a console on stdin from here; this
version's console (stop/abort/kill commands while a run goes) lives in
pypipegraph.views.console and is switched with `new_pipegraph(interactive=...)`.
"""

from .views.console import Console

__all__ = ["Console"]
