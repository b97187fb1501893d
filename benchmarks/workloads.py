"""Benchmark workloads as standalone scripts, one per engine, plus the floor.

Each workload is a Python script text, parameterised by size, written into a fresh
directory and run as its own process, so the times include interpreter start,
imports, graph building, store reading and the run itself, as a user sees them.

Engines: "ours" (pypipegraph), "ppg2" (pypipegraph2) and "doit" (both from the `bench`
extra), and "floor" (one plain Python process doing the same file work, no engine).
doit runs its tasks serially in one process (its default); it has no data-loading jobs,
so it only takes part in the file workloads.
"""

from __future__ import annotations

import textwrap

_HEADERS = {
    "ours": """
        import pypipegraph as ppg
        ppg.new_pipegraph(quiet=True, dump_graph=False{reuse})
        FGJ = ppg.FileGeneratingJob
        def write(of, text):
            with open(of, "w") as fh:
                fh.write(text)
        def loader_return():
            return None
        """,
    "ppg2": """
        import pypipegraph2 as ppg
        ppg.new(cores={cores}, run_mode=ppg.RunMode.NONINTERACTIVE)
        FGJ = ppg.FileGeneratingJob
        def write(of, text):
            with open(of, "w") as fh:
                fh.write(text)
        def loader_return():
            return ppg.UseInputHashesForOutput()
        """,
    "doit": """
        import sys
        import doit
        DOIT_CONFIG = {{"verbosity": 0, "dep_file": ".doit.db"}}
        def write(of, text):
            with open(of, "w") as fh:
                fh.write(text)
        """,
}

_DOIT_RUN = """
sys.argv = sys.argv[:1]
doit.run(globals())
"""

DOIT_FANIN = """
import os
os.makedirs("out", exist_ok=True)
def copy(i):
    with open("in/%d" % i) as fh:
        write("out/%d" % i, fh.read())
def final():
    write("final.txt", str({n}))
def task_copy():
    for i in range({n}):
        yield {{"name": str(i), "file_dep": ["in/%d" % i], "targets": ["out/%d" % i],
               "actions": [(copy, (i,))]}}
def task_final():
    return {{"file_dep": ["out/%d" % i for i in range({n})], "targets": ["final.txt"],
            "actions": [final]}}
""" + _DOIT_RUN

DOIT_CHAIN = """
import os
os.makedirs("out", exist_ok=True)
def step(i):
    text = "0" if i == 0 else open("out/%d" % (i - 1)).read()
    write("out/%d" % i, str(int(text) + 1))
def task_step():
    for i in range({n}):
        yield {{"name": str(i), "file_dep": ["out/%d" % (i - 1)] if i else [],
               "targets": ["out/%d" % i], "actions": [(step, (i,))]}}
""" + _DOIT_RUN

# Fan-in: N jobs, each reading in/i (a file invariant) and writing out/i; one final
# job depending on all of them.
FANIN = """
import os
os.makedirs("out", exist_ok=True)
jobs = []
for i in range({n}):
    def work(of, i=i):
        with open("in/%d" % i) as fh:
            write(of, fh.read())
    jobs.append(FGJ("out/%d" % i, work).depends_on(ppg.FileInvariant("in/%d" % i)))
def final(of):
    write(of, str(len(jobs)))
FGJ("final.txt", final).depends_on(jobs)
ppg.run()
"""

FANIN_FLOOR_COLD = """
import os
os.makedirs("out", exist_ok=True)
for i in range({n}):
    with open("in/%d" % i) as fh:
        text = fh.read()
    with open("out/%d" % i, "w") as fh:
        fh.write(text)
with open("final.txt", "w") as fh:
    fh.write(str({n}))
"""

FANIN_FLOOR_NOOP = """
import os
for i in range({n}):
    os.stat("in/%d" % i)
    os.stat("out/%d" % i)
os.stat("final.txt")
"""

FANIN_FLOOR_CHANGED = FANIN_FLOOR_NOOP + """
with open("in/7") as fh:
    text = fh.read()
with open("out/7", "w") as fh:
    fh.write(text)
with open("final.txt", "w") as fh:
    fh.write(str({n}))
"""

CHAIN = """
import os
os.makedirs("out", exist_ok=True)
previous = None
for i in range({n}):
    def work(of, i=i):
        text = "0" if i == 0 else open("out/%d" % (i - 1)).read()
        write(of, str(int(text) + 1))
    job = FGJ("out/%d" % i, work)
    if previous is not None:
        job.depends_on(previous)
    previous = job
ppg.run()
"""

CHAIN_FLOOR = """
import os
os.makedirs("out", exist_ok=True)
for i in range({n}):
    text = "0" if i == 0 else open("out/%d" % (i - 1)).read()
    with open("out/%d" % i, "w") as fh:
        fh.write(str(int(text) + 1))
"""

LOADERS = """
data = {{}}
loaders = []
for i in range({n}):
    def load(i=i):
        data[i] = i
        return loader_return()
    loaders.append(ppg.DataLoadingJob("load%d" % i, load))
def final(of):
    write(of, str(sum(data.values())))
FGJ("final.txt", final).depends_on(loaders)
ppg.run()
"""

LOADERS_FLOOR = """
data = {{}}
for i in range({n}):
    data[i] = i
with open("final.txt", "w") as fh:
    fh.write(str(sum(data.values())))
"""

CPU = """
import os
os.makedirs("out", exist_ok=True)
def burn(of):
    import time
    end = time.process_time() + {seconds}
    x = 0
    while time.process_time() < end:
        x += 1
    write(of, str(x))
for i in range({n}):
    FGJ("out/%d" % i, burn)
ppg.run()
"""

IMPORT = {"ours": "import pypipegraph\n", "ppg2": "import pypipegraph2\n", "doit": "import doit\n",
          "floor": "pass\n"}


def script(engine: str, body: str, cores: int, raw: bool = False, reuse: bool = False, **params) -> str:
    """The full script for `engine`: its header (not for the floor, not `raw`) and the body.

    `reuse`: ours runs jobs in reused worker processes (`reuse_workers=True`), not a fork per job.
    """
    text = body.format(**params)
    if engine == "floor" or raw:
        return text
    reuse_arg = ", reuse_workers=True" if reuse else ""
    return textwrap.dedent(_HEADERS[engine]).format(cores=cores, reuse=reuse_arg) + text
