"""A reference model of pypipegraph's rerun rules, for tests/test_oracle.py.

Pure Python: no pypipegraph import. It describes a "world" (a DAG of job specs, the
files on disk, the records the store keeps) and predicts, for the next run, which jobs
run and what every file contains afterwards. The rules, from docs/rerun-decisions.md,
docs/jobs-in-memory.md and docs/jobs-temp-files.md:

R1  Fingerprints: FileInvariant = the file's content (a touch keeps it); Parameter-
    Invariant = the value (a dict regardless of key order); FunctionInvariant (also
    the implicit FI<job id> of every job) = code + default arguments, not line numbers,
    comments or docstrings (our callbacks differ only in defaults, so: the spec), plus
    what the code reads from its module (R1b);
R1b A job's `hook` makes its callback read module state of test_oracle.py, one or two
    levels down: "const" / "tag" call a helper that reads the immutable constant
    ORACLE_CONST (into the output / only checked, so early cutoff); "table" reads its
    entry of the tuple constant ORACLE_TABLE (the whole tuple counts, only its entry
    shows in the output); "helper" calls a helper that calls the global oracle_helper,
    rebound between graphs to HELPER_VERSIONS (same code reformatted: no change; other
    code with the same output: fingerprint change only; other output).
    FileGeneratingJob / MultiFileGeneratingJob = the content of its output file(s).
R2  A loader's or temp job's fingerprint = the sorted {input id: fingerprint} of its
    inputs (its own FI included). Whether it ran does not matter.
R3  An output job (FG/MFG) runs when: no record (never ran); an output missing; an
    output empty (not empty_ok); an output's content differs from what it wrote; the
    set of input ids differs from the recorded one; an input fingerprint differs from
    the recorded one. Otherwise it keeps its recorded fingerprint (early cutoff: a job
    that reran and wrote identical bytes has an unchanged fingerprint).
R4  A lazy job (DataLoadingJob, TempFileGeneratingJob) runs iff a direct dependant runs
    (output job that must run, or a lazy job that runs); invariants never run.
R5  Temp files do not exist after a run; output files of jobs no longer in the graph
    stay as they were; the store keeps records of removed jobs (re-adding one compares
    against that record).
R6  After every run, each output file holds exactly what a from-scratch build of the
    current graph writes (`from_scratch`).
R7  A run never fails here, and each job's callback runs at most once per run
    (checked in test_oracle.py).
R8  Input files never move in this model: the exception to R3's "set of input ids" for
    input files that moved (docs/rerun-decisions.md, rule 4) is left to the tests that
    move input files (test_compat_diff.py::test_moved_input_files_are_not_a_change).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

KINDS = ("file", "param", "func", "fg", "mfg", "temp", "loader")
INVARIANTS = frozenset({"file", "param", "func"})
LAZY = frozenset({"temp", "loader"})
OUTPUTS = frozenset({"fg", "mfg"})
TRANSFORMS = ("id", "upper", "len", "parity", "head", "const", "empty")
FILE_CONTENTS = ("x", "X", "y", "xy", "xx", "Y")
PARAM_VALUES = (0, 1, 2, "1", "a", True, 1.0, {"k": 1, "j": 2}, {"k": 1, "j": 3})
FUNC_VALUES = ("v0", "V0", "v1", "w")
SALTS = 4
HOOKS = ("none", "const", "tag", "table", "helper")
CONST_VALUES = ("c0", "c1", "c2")
TABLE_VALUES = ("e0", "e1", "e2", "e3")
TABLE_SIZE = 3
# oracle_helper versions (test_oracle.HELPERS, same order): (code identity, suffix added)
HELPER_VERSIONS = (("plain", ""), ("plain", ""), ("copy", ""), ("bang", "!"), ("tilde", "~h"))


# --- what jobs compute (shared by the callbacks and the model) -----------------------


def param_text(value) -> str:
    """What a job reads from a parameter: dicts in key order (their fingerprint ignores order)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sorted(value.items())) + "}"
    return f"{type(value).__name__}:{value!r}"


def short(value: str) -> str:
    return value if len(value) <= 12 else "h" + hashlib.md5(value.encode()).hexdigest()[:8]


def payload(values) -> str:
    """values: [(input job id, value)] sorted by id."""
    return ",".join(f"{dep}={short(v)}" for dep, v in values)


def render(spec, values) -> str:
    """Main output of a job with spec (salt, transform, noop) given its inputs' values."""
    salt, transform, _noop = spec
    p = payload(values)
    text = {
        "id": lambda: p,
        "upper": lambda: p.upper(),
        "len": lambda: str(len(p)),
        "parity": lambda: "odd" if len(p) % 2 else "even",
        "head": lambda: p[:5],
        "const": lambda: "k",
        "empty": lambda: "",
    }[transform]()
    return text + (f"~{salt}" if salt else "")


def render_b(spec, values) -> str:
    """Second file of a MultiFileGeneratingJob (dependants read only the first)."""
    return "n%d" % (len(payload(values)) % 3)


# --- the world ---------------------------------------------------------------------


@dataclass
class Node:
    num: int
    kind: str
    deps: list = field(default_factory=list)  # node numbers
    spec: tuple = (0, "id", 0)  # jobs: (salt, transform, noop)
    value: object = None  # file content / parameter / function return value
    noop: int = 0  # functions: changes the fingerprint, not the value
    variant: int = 0  # jobs: 1 = the same callback code reformatted (no change)
    empty_ok: bool = False
    hook: str = "none"  # jobs: what the callback reads from its module (R1b)

    @property
    def job_id(self) -> str:
        n = self.num
        return {
            "file": f"in/i{n}",
            "param": f"PIp{n}",
            "func": f"fn{n}",
            "fg": f"out/f{n}",
            "mfg": f"out/m{n}_a:out/m{n}_b",
            "temp": f"tmp/t{n}",
            "loader": f"load{n}",
        }[self.kind]

    @property
    def slot(self) -> int:
        """The entry of ORACLE_TABLE a "table" job reads."""
        return self.num % TABLE_SIZE

    @property
    def outputs(self) -> list:
        n = self.num
        return {"fg": [f"out/f{n}"], "mfg": [f"out/m{n}_a", f"out/m{n}_b"], "temp": [f"tmp/t{n}"]}.get(
            self.kind, []
        )

    @property
    def key(self) -> str:
        """What a dependant reads: a path, a parameter/function/loader name."""
        n = self.num
        return {
            "file": f"in/i{n}",
            "param": f"p{n}",
            "func": f"fn{n}",
            "fg": f"out/f{n}",
            "mfg": f"out/m{n}_a",
            "temp": f"tmp/t{n}",
            "loader": f"load{n}",
        }[self.kind]

    def describe(self, nodes) -> str:
        kind = {"file": "FileInvariant", "param": "ParameterInvariant", "func": "FunctionInvariant",
                "fg": "FileGeneratingJob", "mfg": "MultiFileGeneratingJob",
                "temp": "TempFileGeneratingJob", "loader": "DataLoadingJob"}[self.kind]
        if self.kind == "file":
            return f"{self.job_id}: {kind} content={self.value!r}"
        if self.kind == "param":
            return f"{self.job_id}: {kind} value={self.value!r}"
        if self.kind == "func":
            return f"{self.job_id}: {kind} returns {self.value!r} noop={self.noop}"
        deps = ", ".join(nodes[d].job_id for d in self.deps)
        extra = (" empty_ok" if self.empty_ok else "") + (" reformatted" if self.variant else "")
        if self.hook != "none":
            extra += f" hook={self.hook}" + (f"[{self.slot}]" if self.hook == "table" else "")
        return f"{self.job_id}: {kind} spec={self.spec}{extra} <- [{deps}]"


@dataclass
class Record:
    inputs: dict  # input id -> fingerprint
    outputs: dict  # path -> content written
    fingerprint: tuple


@dataclass
class Prediction:
    ran: set
    disk: dict
    records: dict
    reasons: dict  # job id -> model's reasons (for messages)


class World:
    """Model state plus the real files it mirrors (edits write both)."""

    def __init__(self):
        self.nodes: dict[int, Node] = {}
        self.present: set[int] = set()
        self.order: list[int] = []  # every node ever made; deps always point earlier
        self.disk: dict[str, str] = {}
        self.records: dict[str, Record] = {}
        self.next_num = 0
        self.clock = 0
        self.transcript: list[str] = []
        # module state of test_oracle.py the hooked callbacks read (R1b)
        self.const = CONST_VALUES[0]
        self.table = TABLE_VALUES[:TABLE_SIZE]
        self.helper = 0  # index into HELPER_VERSIONS

    # --- files -----------------------------------------------------------------

    def write(self, path: str, content: str) -> None:
        with open(path, "w") as fh:
            fh.write(content)
        self.touch(path)
        self.disk[path] = content

    def touch(self, path: str) -> None:
        """A new, unique mtime (no coarse-timestamp coincidences with recorded stats)."""
        self.clock += 1
        stamp = (1_000_000_000 + self.clock) * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))

    # --- graph -----------------------------------------------------------------

    def live(self, kinds=None) -> list[Node]:
        return [self.nodes[n] for n in self.order if n in self.present
                and (kinds is None or self.nodes[n].kind in kinds)]

    def position(self, num: int) -> int:
        return self.order.index(num)

    def new_node(self, raw, front: bool) -> Node:
        kind_i, _picks, salt, transform, pick, _empty_ok, hook = raw
        kind = KINDS[kind_i % len(KINDS)]
        node = Node(self.next_num, kind)
        self.next_num += 1
        if kind == "file":
            node.value = FILE_CONTENTS[pick % len(FILE_CONTENTS)]
            self.write(node.key, node.value)
        elif kind == "param":
            node.value = PARAM_VALUES[pick % len(PARAM_VALUES)]
        elif kind == "func":
            node.value = FUNC_VALUES[pick % len(FUNC_VALUES)]
        else:
            node.spec = (salt % SALTS, TRANSFORMS[transform % len(TRANSFORMS)], 0)
            # an empty output without empty_ok fails the job (0.197's rule, tests/test_file_jobs.py);
            # the model does not model failures, so generated output jobs accept empty outputs
            node.empty_ok = kind in OUTPUTS
            node.hook = HOOKS[hook % len(HOOKS)]
        self.nodes[node.num] = node
        self.present.add(node.num)
        if front:
            self.order.insert(0, node.num)
        else:
            self.order.append(node.num)
        return node

    def build_initial(self, raw_nodes) -> None:
        for raw in raw_nodes:
            before = self.live()
            node = self.new_node(raw, front=False)
            if node.kind not in INVARIANTS and before:
                for p in raw[1]:
                    dep = before[p % len(before)].num
                    if dep not in node.deps:
                        node.deps.append(dep)
        self.transcript.append("initial graph:")
        self.transcript.extend("  " + n.describe(self.nodes) for n in self.live())
        self.transcript.append(self.describe_module())

    # --- edits -----------------------------------------------------------------

    def apply(self, edit) -> str:
        op, a, b, raw = edit
        text = getattr(self, "edit_" + op)(a, b, raw) or f"{op}: not applicable, skipped"
        self.transcript.append("  edit " + text)
        return text

    def _pick(self, kinds, a):
        nodes = self.live(kinds)
        return nodes[a % len(nodes)] if nodes else None

    def edit_change_input(self, a, b, raw):
        node = self._pick({"file"}, a)
        if node is None:
            return None
        choices = [c for c in FILE_CONTENTS if c != node.value]
        old, node.value = node.value, choices[b % len(choices)]
        self.write(node.key, node.value)
        return f"write {node.key}: {old!r} -> {node.value!r}"

    def edit_touch_input(self, a, b, raw):
        node = self._pick({"file"}, a)
        if node is None:
            return None
        self.touch(node.key)
        return f"touch {node.key} (content unchanged)"

    def edit_change_param(self, a, b, raw):
        node = self._pick({"param"}, a)
        if node is None:
            return None
        choices = [c for c in PARAM_VALUES if param_text(c) != param_text(node.value)]
        old, node.value = node.value, choices[b % len(choices)]
        return f"parameter {node.job_id}: {old!r} -> {node.value!r}"

    def edit_reorder_param(self, a, b, raw):
        """Dicts fingerprint independent of order: nothing must run."""
        node = self._pick({"param"}, a)
        if node is None or not isinstance(node.value, dict):
            return None
        node.value = dict(reversed(list(node.value.items())))
        return f"parameter {node.job_id}: same dict, keys reordered -> {node.value!r}"

    def edit_change_function(self, a, b, raw):
        """A job's callback changes (new default value): salt or transform."""
        node = self._pick({"fg", "mfg", "temp", "loader"}, a)
        if node is None:
            return None
        salt, transform, noop = node.spec
        old = node.spec
        if b % 2:
            node.spec = ((salt + 1 + b // 2 % (SALTS - 1)) % SALTS, transform, noop)
        else:
            others = [t for t in TRANSFORMS if t != transform]
            node.spec = (salt, others[b // 2 % len(others)], noop)
        return f"function of {node.job_id}: spec {old} -> {node.spec}"

    def edit_change_function_same_output(self, a, b, raw):
        node = self._pick({"fg", "mfg", "temp", "loader"}, a)
        if node is None:
            return None
        old = node.spec
        node.spec = (old[0], old[1], old[2] + 1)
        return f"function of {node.job_id}: spec {old} -> {node.spec} (same output)"

    def edit_reformat_function(self, a, b, raw):
        """Line numbers, comments, formatting and docstrings do not count: nothing runs."""
        node = self._pick({"fg", "mfg", "temp", "loader"}, a)
        if node is None:
            return None
        node.variant = 1 - node.variant
        return f"callback of {node.job_id} reformatted (variant {node.variant}), same code"

    def edit_change_function_invariant(self, a, b, raw):
        node = self._pick({"func"}, a)
        if node is None:
            return None
        if b % 2:
            node.noop += 1
            return f"function {node.job_id}: noop -> {node.noop} (same return value)"
        choices = [c for c in FUNC_VALUES if c != node.value]
        old, node.value = node.value, choices[b // 2 % len(choices)]
        return f"function {node.job_id}: returns {old!r} -> {node.value!r}"

    def _output_file(self, a, b):
        node = self._pick(OUTPUTS, a)
        if node is None:
            return None, None
        path = node.outputs[b % len(node.outputs)]
        return node, path

    def edit_delete_output(self, a, b, raw):
        node, path = self._output_file(a, b)
        if path is None or path not in self.disk:
            return None
        os.unlink(path)
        del self.disk[path]
        return f"delete {path}"

    def edit_tamper_output(self, a, b, raw):
        node, path = self._output_file(a, b)
        if path is None or path not in self.disk:
            return None
        content = "T" if self.disk[path] != "T" else "TT"
        self.write(path, content)
        return f"overwrite {path} with {content!r}"

    def edit_touch_output(self, a, b, raw):
        node, path = self._output_file(a, b)
        if path is None or path not in self.disk:
            return None
        self.touch(path)
        return f"touch {path} (content unchanged)"

    def edit_add_dependency(self, a, b, raw):
        jobs = self.live(OUTPUTS | LAZY)
        candidates = []
        for job in jobs:
            pos = self.position(job.num)
            ups = [n for n in self.order[:pos] if n in self.present and n not in job.deps]
            if ups:
                candidates.append((job, ups))
        if not candidates:
            return None
        job, ups = candidates[a % len(candidates)]
        dep = ups[b % len(ups)]
        job.deps.append(dep)
        return f"{job.job_id}.depends_on({self.nodes[dep].job_id})"

    def edit_remove_dependency(self, a, b, raw):
        jobs = [j for j in self.live(OUTPUTS | LAZY) if j.deps]
        if not jobs:
            return None
        job = jobs[a % len(jobs)]
        dep = job.deps.pop(b % len(job.deps))
        return f"{job.job_id} no longer depends on {self.nodes[dep].job_id}"

    def edit_add_job(self, a, b, raw):
        kind = KINDS[raw[0] % len(KINDS)]
        if kind in INVARIANTS:
            # inputs go first in the order; attach them to existing jobs
            node = self.new_node(raw, front=True)
            jobs = self.live(OUTPUTS | LAZY)
            attached = []
            for p in raw[1][:2]:
                if jobs:
                    job = jobs[p % len(jobs)]
                    if node.num not in job.deps:
                        job.deps.append(node.num)
                        attached.append(job.job_id)
            return f"add {node.describe(self.nodes)}, used by [{', '.join(attached)}]"
        before = self.live()
        node = self.new_node(raw, front=False)
        for p in raw[1]:
            if before:
                dep = before[p % len(before)].num
                if dep not in node.deps:
                    node.deps.append(dep)
        return f"add {node.describe(self.nodes)}"

    def edit_remove_job(self, a, b, raw):
        node = self._pick(None, a)
        if node is None:
            return None
        self.present.discard(node.num)
        users = []
        for other in self.live():
            if node.num in other.deps:
                other.deps.remove(node.num)
                users.append(other.job_id)
        return f"remove {node.job_id} (was used by [{', '.join(users)}])"

    def edit_readd_job(self, a, b, raw):
        removed = [self.nodes[n] for n in self.order if n not in self.present]
        if not removed:
            return None
        node = removed[a % len(removed)]
        self.present.add(node.num)
        node.deps = [d for d in node.deps if d in self.present]
        return f"re-add {node.describe(self.nodes)}"

    def edit_change_constant(self, a, b, raw):
        """Rebind ORACLE_CONST or one entry of ORACLE_TABLE: their readers rerun."""
        if a % 2:
            choices = [c for c in CONST_VALUES if c != self.const]
            old, self.const = self.const, choices[b % len(choices)]
            return f"module constant ORACLE_CONST: {old!r} -> {self.const!r}"
        slot = b % TABLE_SIZE
        choices = [c for c in TABLE_VALUES if c != self.table[slot]]
        old = self.table
        self.table = old[:slot] + (choices[b // TABLE_SIZE % len(choices)],) + old[slot + 1:]
        return f"module constant ORACLE_TABLE: {old!r} -> {self.table!r}"

    def edit_change_helper(self, a, b, raw):
        """Rebind oracle_helper to another version (maybe the same code reformatted)."""
        choices = [i for i in range(len(HELPER_VERSIONS)) if i != self.helper]
        old, self.helper = self.helper, choices[b % len(choices)]
        same = HELPER_VERSIONS[old][0] == HELPER_VERSIONS[self.helper][0]
        return (f"module helper oracle_helper: version {old} {HELPER_VERSIONS[old]} -> {self.helper} "
                f"{HELPER_VERSIONS[self.helper]}" + (" (same code, reformatted)" if same else ""))

    def edit_nothing(self, a, b, raw):
        return "nothing (plain rerun)"

    # --- prediction --------------------------------------------------------------

    def invariant_fingerprint(self, node: Node):
        if node.kind == "file":
            return ("file", self.disk[node.key])
        if node.kind == "param":
            return ("param", param_text(node.value))
        return ("func", node.value, node.noop)

    def value_of_invariant(self, node: Node) -> str:
        if node.kind == "file":
            return self.disk[node.key]
        if node.kind == "param":
            return param_text(node.value)
        return node.value

    def inputs_of(self, node: Node, fps: dict) -> dict:
        inputs = {self.nodes[d].job_id: fps[self.nodes[d].job_id] for d in node.deps}
        inputs[node.job_id + "_func"] = ("code", node.spec, node.hook, self.hook_reads(node))  # implicit FI
        return inputs

    def hook_reads(self, node: Node):
        """R1b: the module state a job's function fingerprint follows."""
        if node.hook in ("const", "tag"):
            return ("const", self.const)
        if node.hook == "table":
            return ("table", self.table, node.slot)
        if node.hook == "helper":
            return ("helper", HELPER_VERSIONS[self.helper][0])
        return ()

    def main_text(self, node: Node, vals) -> str:
        """A job's main output (or loaded value): render() plus what its hook adds."""
        text = render(node.spec, vals)
        if node.hook == "const":
            return text + "+" + self.const
        if node.hook == "table":
            return text + "/" + self.table[node.slot]
        if node.hook == "helper":
            return text + HELPER_VERSIONS[self.helper][1]
        return text

    def values_of(self, node: Node, values: dict) -> list:
        return sorted((self.nodes[d].job_id, values[self.nodes[d].job_id]) for d in node.deps)

    def predict(self) -> Prediction:
        disk = dict(self.disk)
        records = dict(self.records)
        fps: dict = {}
        values: dict = {}
        must: dict = {}
        reasons: dict = {}
        live = self.live()
        for node in live:
            jid = node.job_id
            if node.kind in INVARIANTS:
                fps[jid] = self.invariant_fingerprint(node)
                values[jid] = self.value_of_invariant(node)
                continue
            inputs = self.inputs_of(node, fps)
            if node.kind in LAZY:
                fps[jid] = tuple(sorted(inputs.items()))
                values[jid] = self.main_text(node, self.values_of(node, values))
                continue
            why = []
            rec = records.get(jid)
            if rec is None:
                why.append("never ran")
            else:
                for path in node.outputs:
                    if path not in disk:
                        why.append(f"output {path} missing")
                    elif disk[path] == "" and not node.empty_ok:
                        why.append(f"output {path} empty")
                    elif disk[path] != rec.outputs.get(path):
                        why.append(f"output {path} changed outside")
                if set(rec.inputs) != set(inputs):
                    why.append("set of inputs changed")
                why += [f"input {k} changed" for k in sorted(inputs) if k in rec.inputs and rec.inputs[k] != inputs[k]]
            must[jid] = bool(why)
            if why:
                reasons[jid] = why
                vals = self.values_of(node, values)
                written = {node.outputs[0]: self.main_text(node, vals)}
                if node.kind == "mfg":
                    written[node.outputs[1]] = render_b(node.spec, vals)
                disk.update(written)
                fingerprint = tuple(written[p] for p in node.outputs)
                records[jid] = Record(inputs, written, fingerprint)
                fps[jid] = fingerprint
            else:
                fps[jid] = rec.fingerprint
            values[jid] = disk[node.outputs[0]]
        # R4: lazy jobs run iff a direct dependant runs (downstream first)
        runs: dict = {}
        for node in reversed(live):
            jid = node.job_id
            if node.kind in INVARIANTS:
                runs[jid] = False
            elif node.kind in LAZY:
                users = [u for u in live if node.num in u.deps]
                runs[jid] = any(runs[u.job_id] for u in users)
                if runs[jid]:
                    reasons[jid] = ["needed by " + ", ".join(u.job_id for u in users if runs[u.job_id])]
            else:
                runs[jid] = must[jid]
        ran = {jid for jid, r in runs.items() if r}
        return Prediction(ran, disk, records, reasons)

    def commit(self, prediction: Prediction) -> None:
        self.disk = prediction.disk
        self.records = prediction.records

    def from_scratch(self) -> dict:
        """R6: every live output file as a clean build of the current graph writes it."""
        values: dict = {}
        files: dict = {}
        for node in self.live():
            jid = node.job_id
            if node.kind in INVARIANTS:
                values[jid] = self.value_of_invariant(node)
                continue
            vals = self.values_of(node, values)
            values[jid] = self.main_text(node, vals)
            if node.kind in OUTPUTS:
                files[node.outputs[0]] = values[jid]
                if node.kind == "mfg":
                    files[node.outputs[1]] = render_b(node.spec, vals)
        return files

    def describe_module(self) -> str:
        return (f"  module state: ORACLE_CONST={self.const!r} ORACLE_TABLE={self.table!r} "
                f"oracle_helper=version {self.helper} {HELPER_VERSIONS[self.helper]}")

    def describe_graph(self) -> str:
        return "\n".join(["  " + n.describe(self.nodes) for n in self.live()] + [self.describe_module()])
