"""The rebuilder: must a job run, and why (in words); what is recorded after it ran.

Invariant: this is the one place that computes fingerprints, checks invariants, decides
with reasons, applies early cutoff, decides temp-file reuse and writes job records. A
decision depends only on the job's record in the store, the current fingerprints of its
upstream jobs and the state of its output files. A job is out of date when it never ran
(or its last run failed), an output is missing (or empty and not `empty_ok`) or was
changed outside the pipeline, the set of its upstream jobs changed, or an upstream
fingerprint differs from the one recorded when it last ran. Early cutoff follows: a job
that reran and produced byte-identical output keeps its fingerprint, so its dependants
are not out of date. How an invariant's state compares and how a change reads in words
belongs to the invariant's class (`compute`, `describe_change`); nothing here looks at
class names or inside `Record.extra`.

The run (`Scheduler`) and `ppg why` (`explain`) use the same Rebuilder; for `ppg why`
it reads a store opened read-only (`read_only=True`: nothing is written).
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from .errors import JobContractError, StoreError
from .hashing import combine, file_stat, hash_file
from .jobs.output import outputs_state
from .plumbing.notices import warn
from .store.format import GENERATOR, INVARIANT, LOADER, MOVED, OUTPUT, TEMP, Record, unusable_text
from .store.values import unverified_in
from .temp_files import TempFiles, is_temp

UNKNOWN = object()  # `explain`: a fingerprint that depends on a job that will (or may) run


class Decision:
    """The outcome of `Rebuilder.check`.

    reasons      why the job must run (empty: it is up to date, or lazy)
    general      the same reasons in words without job ids or file names, so that jobs
                 with the same change read alike (`ppg why` groups by them)
    invalidated  True when an input changed (as opposed to a missing output / no record)
    not_done     True when it never ran or an output is not as recorded (0.197's "not done")
    fingerprint  the job's fingerprint if it does not run
    error        the exception an invariant raised while being checked, else None
    """

    __slots__ = ("reasons", "invalidated", "fingerprint", "error", "not_done", "general")

    def __init__(self, reasons, invalidated=False, fingerprint=None, error=None, not_done=False,
                 general=None):
        self.reasons = reasons
        self.general = reasons if general is None else general  # the same reasons without job ids
        self.invalidated = invalidated
        self.fingerprint = fingerprint
        self.error = error
        self.not_done = not_done  # no record, or an output missing/empty/changed outside


class Verdict(NamedTuple):
    """`explain`'s answer for one job: status "run", "may", "ok" (or "lazy" while resolving);
    `general`: its reasons without job ids, sorted (what jobs with the same change share)."""

    job: object
    status: str
    reasons: list
    details: list
    general: tuple = ()


def job_kind(job) -> str:
    """The kind a job's record carries in the store (store_format.KINDS)."""
    if job.is_invariant:
        return INVARIANT
    if job.lazy:
        return TEMP if job.filenames else LOADER
    if job.generates_jobs:
        return GENERATOR
    return OUTPUT


def _content_hash(name: str) -> int | str:
    """The output's content hash, or why it cannot be read (a directory in its place: the
    job runs, and fails naming it; the rest of the run goes on)."""
    try:
        return hash_file(name)
    except OSError as exc:
        return f"output {name} cannot be read ({exc.strerror})"


def _compute_afresh(job):
    """An invariant's (fingerprint, state) as if it had never been checked; None when that
    fails too."""
    try:
        return job.compute(None)
    except Exception:  # noqa: BLE001 - the caller reports the first error
        return None


def outputs_fingerprint(outputs) -> int:
    """A job's fingerprint from its (name, mtime, size, hash) output tuples."""
    if len(outputs) == 1:
        return outputs[0][3]
    return combine((name, digest) for name, _, _, digest in outputs)


class Rebuilder:
    """Decides and records for one store. `fingerprints` maps each resolved job to its
    fingerprint; `note(text)` receives the lines the run log shows (early cutoff, reuse)."""

    def __init__(self, store, note=None, read_only: bool = False):
        self.store = store  # get(id) -> Record | None; writable: put, delete, store_source
        self.read_only = read_only
        self.note = note or _ignore
        self.fingerprints: dict = {}
        self.changed: dict = {}  # invariant -> (old record, new extra) when its check moved it
        self.invalidated: set = set()  # jobs 0.197 would have invalidated (see `_invalidate`)
        self.explaining = False  # `explain`: reasons also in words without ids (Decision.general)
        self.ran: set = set()  # jobs recorded as run in this run
        self._before: list = []  # [when the previous run began], once asked

    def has_records(self) -> bool:
        """Whether the store knows any job (an empty store knows no runtimes)."""
        return self.store.record_count() > 0

    def last_runtime(self, job) -> float:
        """Seconds `job` took when it last ran (0 when unknown)."""
        record = self.store.get(job.job_id)
        return record.runtime if record is not None else 0.0

    def temp_files(self, is_settled, forget) -> TempFiles:
        """The temp-file lifecycle of a run; `is_settled(job)`/`forget(job)` are the scheduler's."""
        return TempFiles(self.note, is_settled, forget)

    def unreadable(self, job_id: str) -> str | None:
        """Why the store's record of `job_id` cannot be used (None: it can, or there is none)."""
        unreadable = getattr(self.store, "unreadable", None)
        return unreadable(job_id) if unreadable is not None else None

    def failures(self) -> dict:
        """{job id: "failed"/"killed"} of jobs whose last run did not finish."""
        return self.store.failures()

    # --- deciding ------------------------------------------------------------

    def inputs(self, job) -> dict:
        """{upstream id: fingerprint} of a job's upstream jobs (all resolved)."""
        fingerprints = self.fingerprints
        return {up.job_id: fingerprints[up] for up in job.prerequisites}

    def check(self, job) -> Decision:
        """Decide `job`, whose upstream jobs are all resolved; record its fingerprint
        unless it must run. Invariants are computed (and their record updated); a lazy
        job gets the fingerprint of its inputs and never reasons of its own (a temp job
        whose kept file is missing gets another one, so that its dependants rerun)."""
        if job.is_invariant:
            return self._check_invariant(job)
        if job.lazy:
            fingerprint = combine(sorted(self.inputs(job).items()))
            missing = _missing_kept_file(job)
            if missing is not None:
                fingerprint = combine([fingerprint, "missing", missing])
                self._invalidate(job, "not done")
            else:
                self._invalidate_if_upstream(job)
            self.fingerprints[job] = fingerprint
            return Decision([], False, fingerprint)
        if self.invalidated:  # first, as 0.197 did (a library's hook may delete outputs)
            self._invalidate_if_upstream(job)
        record = self.store.get(job.job_id)
        if record is None and self._taken_as_done(job):
            record = self._record_as_done(job, time.time())
            self.note(f"{job.job_id}: its outputs exist and no input of it is new or changed: "
                      "taken as done (no record in the store)")
        decision = self.judge(job, record, self.inputs(job))
        if not decision.reasons:
            self.fingerprints[job] = decision.fingerprint
        elif decision.not_done and not job.always_runs:
            self._invalidate(job, "not done", again=True)
        return decision

    def _taken_as_done(self, job) -> bool:
        """0.197's rule for an output job the store has no record of: done when its outputs
        exist (not empty unless `empty_ok`), no upstream invariant is new or changed and no
        upstream job ran or must run (it is not invalidated), and the store does not remember
        it failing or running (`ppg forget` makes a job run again). Unlike 0.197, outputs
        written since an earlier run of the engine began do not count: they may be the
        partial output of a job whose run was killed (kill -9) before it was recorded."""
        if job.always_runs or job in self.invalidated or not job.output_names():
            return False
        ran = self.ran
        if any(up in ran for up in job.prerequisites):
            return False
        before = self._previous_run_started()
        for name in job.output_names():
            stat = file_stat(name)
            if job.output_complaint(name, stat) is not None:
                return False
            if before is not None and stat[0] >= before * 1e9:
                return False  # written since an earlier run began: perhaps by a job that run never finished
        if self.failures().get(job.job_id):
            return False
        return not self.store.ran_before(job.job_id)

    def _previous_run_started(self) -> float | None:
        if not self._before:
            self._before.append(self.store.previous_run_started())
        return self._before[0]

    def _record_as_done(self, job, now: float) -> Record:
        """Record output job `job` as up to date with its outputs on disk now (unless read-only)."""
        outputs = tuple(outputs_state(job.output_names()))
        record = Record(self.inputs(job), outputs, outputs_fingerprint(outputs), 0.0, now, None,
                        job_kind(job))
        if not self.read_only:
            self.store.put(job.job_id, record)
        return record

    def _invalidate_if_upstream(self, job) -> bool:
        """Invalidate `job` when a prerequisite was; whether it was."""
        invalidated = self.invalidated
        if invalidated:
            for up in job.prerequisites:
                if up in invalidated:
                    self._invalidate(job, f"preq invalidated {up.job_id}")
                    return True
        return False

    def _invalidate(self, job, reason: str, again: bool = False) -> None:
        """0.197's invalidation: every job downstream of a new or changed invariant and every
        job that is not done gets `was_invalidated`; a library's `invalidated(reason)`
        override is called with 0.197's reasons ("invariant", "not done", "preq
        invalidated ..."), once per reason; one that leaves a job that is not done without
        `was_invalidated` breaks 0.197's contract (JobContractError, ending the run before
        the job runs). Nothing is called when explaining (read-only)."""
        if job in self.invalidated and not again:
            return
        self.invalidated.add(job)  # also when explaining: what is invalidated decides what is done
        if self.read_only:
            return
        if job.overrides_invalidated:
            job.invalidated(reason)
            if reason == "not done" and not job.was_invalidated:
                raise JobContractError(
                    f"{type(job).__name__} {job.job_id!r}: its invalidated() override did not set "
                    "was_invalidated. Call the base class's invalidated(reason) from it (or set "
                    "self.was_invalidated = True)."
                )
        else:
            job.was_invalidated = True

    def judge(self, job, record: Record | None, current_inputs: dict) -> Decision:
        """Whether output job `job` must run, given its stored `record` and the current
        fingerprints of its inputs. Output files whose mtime moved but whose content did
        not are re-recorded (in a writable store)."""
        if job.always_runs:
            return Decision([f"{type(job).__name__} runs on every run"])
        if record is None:
            why = self.unreadable(job.job_id)
            if why:
                return Decision([f"its record in the store cannot be used ({why}): counts as never ran"],
                                not_done=True)
            last = self.failures().get(job.job_id)
            if last == "killed":
                return Decision(["its last run was killed"], not_done=True)
            if last:
                return Decision(["its last run failed"], not_done=True)
            return Decision(["never ran (no record in the store)"], not_done=True)
        reasons, general = [], []
        outputs = record.outputs
        refreshed = None
        if [entry[0] for entry in outputs] != list(job.output_names()):
            reasons.append("its declared outputs changed")
            general.append(reasons[-1])
        else:
            for i, (name, mtime, size, digest) in enumerate(outputs):
                stat = file_stat(name)
                complaint = job.output_complaint(name, stat)
                if complaint:
                    reasons.append(complaint)
                    general.append(complaint.replace(f" {name}", "", 1))
                    continue
                if stat[0] != mtime or stat[1] != size:
                    digest_now = _content_hash(name)
                    if digest_now != digest:
                        if type(digest_now) is str:  # the output cannot be read: says why
                            reasons.append(digest_now)
                            general.append(digest_now.replace(f" {name}", "", 1))
                        else:
                            reasons.append(f"output {name} was changed outside the pipeline")
                            general.append("output was changed outside the pipeline")
                        continue
                    if refreshed is None:
                        refreshed = list(outputs)
                    refreshed[i] = (name, stat[0], stat[1], digest)
        not_done = bool(reasons)
        invalidated = False
        if current_inputs != record.inputs:
            if self._only_code_ignored(job, record.inputs, current_inputs):
                record = record._replace(inputs=dict(current_inputs))
                refreshed = refreshed or list(record.outputs)
            elif self._only_moved(job, record.inputs, current_inputs):
                record = record._replace(inputs=dict(current_inputs))
                refreshed = refreshed or list(record.outputs)
            else:
                invalidated = True
                for reason, words in self._input_changes(job, record.inputs, current_inputs):
                    reasons.append(reason)
                    general.append(words)
        if reasons:
            return Decision(reasons, invalidated, not_done=not_done, general=general)
        if refreshed is not None and not self.read_only:
            self.store.put(job.job_id, record._replace(outputs=tuple(refreshed)))
        return Decision([], False, record.fingerprint)

    def _only_code_ignored(self, job, old: dict, new: dict) -> bool:
        """Whether the inputs differ only by the invariants on the job's own code, which
        `ignore_code_changes()` dropped since it ran (0.197 kept such a job's output)."""
        if not job._ignore_code_changes or len(old) <= len(new):
            return False
        dropped = set(job.code_invariant_ids())
        if any(key not in old or old[key] != value for key, value in new.items()):
            return False
        if not all(key in dropped for key in old if key not in new):
            return False
        self.note(f"{job.job_id}: ignores code changes now; its code's invariant no longer counts: not rerun")
        return True

    def _only_moved(self, job, old: dict, new: dict) -> bool:
        """Whether the inputs differ only by input files that moved: each new input is an
        invariant whose class says an old input's recorded state holds the same files
        (`moved_from(old state, state)`), every other input is unchanged."""
        added = [key for key in new if key not in old]
        removed = [key for key in old if key not in new]
        if not added or len(added) != len(removed) or any(
                old[key] != value for key, value in new.items() if key in old):
            return False
        by_id = {up.job_id: up for up in job.prerequisites}
        moves = []
        for key in added:
            up = by_id[key]
            moved_from = getattr(up, "moved_from", None)
            state = self._state(up) if moved_from is not None else None
            if state is None:
                return False
            for old_key in removed:
                old_record = self.store.get(old_key)
                if old_record is not None and moved_from(old_record.extra, state):
                    removed.remove(old_key)
                    moves.append(f"{old_key} -> {key}")
                    break
            else:
                return False
        self.note(f"{job.job_id}: input files moved ({', '.join(moves)}; same names, sizes and "
                  "content): not rerun")
        return True

    def _state(self, invariant):
        """The state (Record.extra) `invariant` was checked with in this run, or None. Not
        kept per invariant: the store holds it (written when it moved); `ppg why` (read-only)
        computes it again."""
        if invariant not in self.fingerprints:
            return None
        record = self.store.get(invariant.job_id)
        if not self.read_only:
            return record.extra if record is not None else None
        try:
            return invariant.compute(record)[1]
        except Exception:  # noqa: BLE001 - the check itself reported it
            return None

    def _check_invariant(self, job) -> Decision:
        old = self.store.get(job.job_id)
        try:
            fingerprint, extra = job.compute(old)
        except Exception as exc:  # noqa: BLE001 - reported as the invariant's failure
            computed = None if old is None else _compute_afresh(job)
            if computed is None:
                return Decision([f"cannot be checked: {type(exc).__name__}: {exc}"], error=exc)
            # the stored state is one its class cannot read: it counts as none, said once
            warn(unusable_text(job.job_id, f"its stored state does not fit: {type(exc).__name__}"))
            (fingerprint, extra), old = computed, None
        self.fingerprints[job] = fingerprint
        if not self.read_only and (old is None or old.fingerprint != fingerprint
                                   or _differs(old.extra, extra) or old.kind != INVARIANT):
            try:
                self.store.put(job.job_id, Record({}, (), fingerprint, 0.0, time.time(), extra, INVARIANT))
            except StoreError as exc:  # its value could not be signed (the store key)
                return Decision([f"cannot be checked: {type(exc).__name__}: {exc}"], error=exc)
            for digest, text in job.kept_texts().items():
                self.store.store_source(digest, text)
        if old is None or old.fingerprint != fingerprint:
            self._invalidate(job, "invariant")
        if old is not None and old.fingerprint != fingerprint:
            self.changed[job] = (old, extra)
            return Decision([], True, fingerprint)
        return Decision([], False, fingerprint)

    def _input_changes(self, job, old: dict, new: dict) -> list[tuple[str, str]]:
        """(reason, the reason without ids) for each difference between recorded and
        current input fingerprints, in the order of the input ids."""
        by_id = {up.job_id: up for up in job.prerequisites}
        changes = []
        for key in sorted(new):
            if key not in old:
                changes.append((f"new input {key}", f"new input {input_kind(by_id[key])}"))
            elif old[key] is MOVED:
                changes.append((f"input {key} changed while the job last ran (what it read is unknown)",
                                "an input changed while the job last ran (what it read is unknown)"))
            elif old[key] != new[key]:
                up = by_id[key]
                reason = up.change_description()
                changes.append((reason, self.change_summary(up) if self.explaining else reason))
        for key in sorted(old):
            if key not in new:
                changes.append((f"input {key} removed", "an input was removed"))
        return changes

    def change_summary(self, up) -> str:
        """How a change of `up`'s fingerprint reads for all its dependants alike: no job id,
        and for an invariant what changed (old and new parameters, the helper or constant a
        function reads); the class words it (`change_summary(old record, new extra, source)`)."""
        old, extra = self.changed.get(up, (None, None))
        return up.change_summary(old, extra, getattr(self.store, "source", _no_source))

    def describe_change(self, job) -> list[str]:
        """Lines showing how invariant `job` changed in this check (empty when it did not);
        the invariant's class words it (`describe_change(old record, new extra, source)`)."""
        old, extra = self.changed.get(job, (None, None))
        if old is None:
            return []
        describe = getattr(job, "describe_change", None)
        try:
            lines = [f"{job.job_id} changed"] if describe is None else describe(
                old, extra, getattr(self.store, "source", _no_source))
        except Exception:  # noqa: BLE001 - a stored state of the wrong shape: no diff to show
            lines = [f"{job.job_id} changed (its stored state cannot be shown)"]
        why = unverified_in(old.extra)
        if why:
            lines.insert(0, f"{job.job_id}: its stored value could not be verified ({why}), "
                            "so it counts as changed")
        return lines

    # --- temporary files -------------------------------------------------------

    def temp_reusable(self, job) -> bool:
        """Temp files kept from a run whose dependant failed, made from the same inputs."""
        if not is_temp(job):
            return False
        record = self.store.get(job.job_id)
        if record is None or record.inputs != self.inputs(job):
            return False
        for name, mtime, size, _digest in record.outputs:
            if file_stat(name) != (mtime, size):
                return False
        self.note(f"{job.job_id}: temp output kept from an earlier run, reused")
        return True

    # --- recording -------------------------------------------------------------

    def record_run(self, job, outputs, start: float, stop: float) -> int:
        """Record a job that ran (its `outputs` as (name, mtime, size, hash)); its fingerprint.

        Early cutoff: a rerun that produced the same output keeps the old fingerprint,
        so dependants recorded with it stay up to date."""
        outputs = tuple(outputs)
        self.ran.add(job)
        if job.lazy:  # made again: a missing kept file no longer counts
            fingerprint = self.fingerprints[job] = combine(sorted(self.inputs(job).items()))
        else:
            fingerprint = outputs_fingerprint(outputs) if outputs else combine([job.job_id])
            old = self.store.get(job.job_id)
            if old is not None and old.fingerprint == fingerprint and not job.always_runs:
                self.note(f"{job.job_id}: output unchanged, dependants not invalidated")
            self.fingerprints[job] = fingerprint
        inputs = self.inputs(job)
        for up in job.prerequisites:
            if up.is_invariant and getattr(up, "_checked", None) and up.moved_since_check():
                inputs[up.job_id] = MOVED  # it may have read another version: runs again next time
                self.note(f"{job.job_id}: input {up.job_id} changed while it ran; it runs again next time")
        self.store.put(job.job_id, Record(inputs, outputs, fingerprint, stop - start, stop,
                                          None, job_kind(job)))
        return fingerprint

    def adopt(self, jobs: list, adopted: set) -> int:
        """Record the `adopted` jobs (in topological order) as up to date with what is on
        disk now, as if each had just been checked or run: a project directory taken over
        from pypipegraph 0.197 (legacy_store). Returns how many output jobs were adopted."""
        outputs_adopted = 0
        now = time.time()
        for job in jobs:
            if job not in adopted:
                continue
            if job.is_invariant or job.lazy:
                self.check(job)
                continue
            self.fingerprints[job] = self._record_as_done(job, now).fingerprint
            outputs_adopted += 1
        self.fingerprints.clear()  # the run checks every job again
        self.changed.clear()
        return outputs_adopted

    def record_generated(self, generator, new_jobs: list) -> int:
        """A job-generating job ran and created `new_jobs`: its fingerprint."""
        fingerprint = self.fingerprints[generator] = generator.fingerprint_of(new_jobs)
        return fingerprint

    def record_failure(self, job) -> None:
        """A failed job runs again next time: its record goes (invariants and loaders,
        which keep no outputs, keep theirs)."""
        if not job.is_invariant and not (job.lazy and not job.filenames):
            self.store.delete(job.job_id)

    # --- the plan: `ppg why` -----------------------------------------------------

    def explain(self, jobs: list) -> dict:
        """{job: Verdict} for `jobs` (in topological order): what the next run would run.

        The same checks as a run, with UNKNOWN fingerprints for jobs that will (or may)
        run: their dependants "may" run, depending on early cutoff at run time."""
        fingerprints = self.fingerprints
        verdicts: dict = {}
        self.explaining = True
        for job in jobs:
            if any(fingerprints.get(up, UNKNOWN) is UNKNOWN for up in job.prerequisites):
                verdicts[job] = self._explain_unknown(job, fingerprints)
                continue
            decision = self.check(job)
            if job.lazy:
                verdicts[job] = Verdict(job, "lazy", [], [])
            elif decision.reasons:
                fingerprints[job] = UNKNOWN
                details = [] if job.is_invariant else self._upstream_details(job)
                verdicts[job] = Verdict(job, "run", decision.reasons, details, _sorted(decision.general))
            else:
                verdicts[job] = Verdict(job, "ok", [], [])
        _resolve_lazy(jobs, verdicts)
        return verdicts

    def _explain_unknown(self, job, fingerprints) -> Verdict:
        fingerprints[job] = UNKNOWN
        if job.lazy:
            return Verdict(job, "lazy", [], [])
        record = self.store.get(job.job_id)
        recorded = record.inputs if record is not None else {}
        inputs = {up.job_id: recorded.get(up.job_id, fingerprints[up]) if fingerprints[up] is UNKNOWN
                  else fingerprints[up] for up in job.prerequisites}
        decision = self.judge(job, record, inputs)
        if decision.reasons:
            return Verdict(job, "run", decision.reasons, self._upstream_details(job),
                           _sorted(decision.general))
        unknown = sorted((up for up in job.prerequisites if fingerprints[up] is UNKNOWN),
                         key=lambda up: up.job_id)
        return Verdict(job, "may", [f"upstream {up.job_id} will run; reruns if its output changes"
                                    for up in unknown], [],
                       _sorted(f"an upstream job of {up.rule} will run; reruns if its output changes"
                               for up in unknown))

    def _upstream_details(self, job) -> list[str]:
        record = self.store.get(job.job_id)
        if record is None or job.always_runs:
            return []
        details = []
        for up in job.prerequisites:
            if up.is_invariant and record.inputs.get(up.job_id) != self.fingerprints.get(up):
                details.extend(self.describe_change(up))
        return details


def _resolve_lazy(jobs: list, verdicts: dict) -> None:
    """A lazy job runs if a dependant runs, may run if one may."""
    rank = {"run": 2, "may": 1}
    for job in reversed(jobs):
        verdict = verdicts[job]
        if verdict.status != "lazy":
            continue
        best, needed_by = 0, None
        for dependant in job.dependants:
            other = verdicts.get(dependant)
            level = rank.get(other.status, 0) if other else 0
            if level > best:
                best, needed_by = level, dependant
        if best == 2:
            verdicts[job] = Verdict(job, "run", [f"needed by {needed_by.job_id}"], [],
                                    (f"needed by a job of {needed_by.rule} that runs",))
        elif best == 1:
            verdicts[job] = Verdict(job, "may", [f"needed if {needed_by.job_id} runs"], [],
                                    (f"needed if a job of {needed_by.rule} runs",))
        else:
            verdicts[job] = Verdict(job, "ok", [], [])


def _sorted(words) -> tuple:
    """Distinct reasons in a stable order."""
    return tuple(sorted(set(words)))


def input_kind(up) -> str:
    """What kind of input a job is, without its id: "(FunctionInvariant)", "from align"."""
    return f"({type(up).__name__})" if up.is_invariant else f"from {up.rule}"


def _differs(old, new) -> bool:
    """Whether two invariant states differ; values that cannot be compared (arrays) do."""
    try:
        return bool(old != new)
    except Exception:  # noqa: BLE001
        return True


def _ignore(_text: str) -> None:
    pass


def _missing_kept_file(job) -> str | None:
    """The first file a temp job keeps (not temporary) that is missing, else None."""
    if not is_temp(job) or len(job.filenames) == 1:
        return None
    temporary = set(job.temp_filenames())
    for name in job.filenames:
        if name not in temporary and not os.path.exists(name):
            return name
    return None


def _no_source(_digest) -> None:
    return None
