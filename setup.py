"""Build of the optional compiled part: the zygote's fork-server loop (Linux).

Everything else is in pyproject.toml. The extension is optional: without a C compiler
(or off Linux) the install succeeds and the zygote runs its pure-Python loop instead.
"""

import sys

from setuptools import Extension, setup

extensions = []
if sys.platform.startswith("linux"):
    extensions.append(Extension("pypipegraph.executors._forkserver", ["pypipegraph/executors/_forkserver.c"],
                                optional=True))
setup(ext_modules=extensions)
