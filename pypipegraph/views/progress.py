"""How far a run is, as its users read it: counts of output jobs, failures grouped by rule
and message, and an estimate of the time the remaining work takes.

Invariant: everything here is learnt from the scheduler's events (and, once, the store's
recorded runtimes of the jobs still to run); it never changes the run. Only jobs a user
defined to produce something are counted: not invariants, and not loaders or temp files
(they run only when a dependant needs them). Each event costs O(1); the ETA is summed
per rule, not per job, so a refresh costs the same at 50 000 jobs as at 50.

    done 228/500 (46%) · running 2 · failed 3 · blocked 12 · 0:01:05 · ETA 0:00:31
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter

from ..events import Attempt, Failure, Listener
from ..plumbing.safe_files import shown
from ..scheduler import DONE, FAILED, SKIPPED


def counted(job) -> bool:
    """Does `job` count in the progress (an output job, not an invariant, loader or temp file)?"""
    return not job.is_invariant and not job.lazy


def clock(seconds: float) -> str:
    """h:mm:ss"""
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def status_text(counts: dict, elapsed: float, eta: float | None, width: int | None = None,
                rough: bool = False) -> str:
    """The one status line the console, the plain log line and `ppg top` show. Within
    `width` columns the least useful fields go first (zero counts, the percentage, the
    elapsed time, then the words shorten); the ETA always stays. A `rough` ETA (rules not
    seen yet, priced at the mean of other rules) reads `ETA ~0:00:30`."""
    total = counts["total"]
    done, running, failed, blocked = counts["done"], counts["running"], counts["failed"], counts["blocked"]
    queued = counts.get("queued")  # on a cluster
    end = f"ETA {'~' if rough else ''}{clock(eta)}" if eta is not None else ""
    percent = f" ({100 * done // total}%)" if total else ""

    def line(short: bool, drop_zero: bool, keep_percent: bool, keep_elapsed: bool) -> str:
        names = ("", "run", "q", "fail", "blk") if short else ("done ", "running", "queued", "failed", "blocked")
        fields = [f"{names[0]}{done}/{total}{percent if keep_percent else ''}",
                  f"{names[1]} {running}"]
        if queued:
            fields.append(f"{names[2]} {queued}")
        for name, value in ((names[3], failed), (names[4], blocked)):
            if value or not drop_zero:
                fields.append(f"{name} {value}")
        if keep_elapsed:
            fields.append(clock(elapsed))
        if end:
            fields.append(end)
        return " · ".join(fields)

    steps = ((False, False, True, True), (False, True, True, True), (False, True, False, True),
             (False, True, False, False), (True, True, False, False))
    text = line(*steps[0])
    for step in steps[1:]:
        if width is None or len(text) <= width:
            break
        text = line(*step)
    return text


def _count(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def rule_lines(rows: list[dict], limit: int = 12) -> list[str]:
    """`align  3 400/10 000 · 2 running · 1 failed`, one line per rule (Progress.rule_rows
    or the same fields from `ppg top`'s snapshot), names aligned; past `limit` rules, the
    rest summed in one line."""
    if not rows:
        return []
    shown = rows[:limit]
    width = max(len(row["rule"]) for row in shown)
    lines = []
    for row in shown:
        parts = [f"{row['rule'].ljust(width)}  {_count(row['done'])}/{_count(row['jobs'])}"]
        for field in ("running", "failed", "blocked"):
            if row.get(field):
                parts.append(f"{_count(row[field])} {field}")
        lines.append(" · ".join(parts))
    rest = rows[limit:]
    if rest:
        lines.append(f"... and {len(rest)} more rules ({_count(sum(r['done'] for r in rest))}/"
                     f"{_count(sum(r['jobs'] for r in rest))} done)")
    return lines


_DIGITS = re.compile(r"\d+")


def failure_message(job, exception) -> str:
    """The first line of `exception` as the user reads it: `ValueError: bad read`."""
    text = f"{type(exception).__name__}: {exception}"
    text = shown(text.splitlines()[0]) if text.strip() else type(exception).__name__
    notes = getattr(exception, "__notes__", None)  # e.g. why a partial output stayed (errors.add_notes)
    if isinstance(notes, list) and notes:
        text += " (" + shown("; ".join(map(str, notes))) + ")"
    return text


class FailureGroup:
    """Failures of one rule with one message (numbers and the job's id aside)."""

    __slots__ = ("rule", "message", "jobs", "traceback", "reason")

    def __init__(self, rule: str, message: str, traceback: str | None, reason: str):
        self.rule = rule
        self.message = message  # the first job's message
        self.traceback = traceback  # the first job's traceback (None: it raised no user code)
        self.reason = reason
        self.jobs: list = []


class Progress(Listener):
    """Counts, failure groups and the ETA of one run, kept up to date from events."""

    def __init__(self):
        self.scheduler = None
        self.started = time.time()
        self.total = 0  # output jobs in the graph
        self.done = 0  # ran or up to date
        self.up_to_date = 0
        self.ran = 0
        self.failed = 0  # jobs that failed themselves (any kind of job)
        self.blocked = 0  # output jobs that did not run because an upstream job failed
        self.failed_outputs = 0  # output jobs among `failed`
        self.rules: dict = {}  # rule -> [output jobs, done, failed, blocked] in this run so far
        self.groups: dict = {}  # (rule, message key) -> FailureGroup, in order of the first failure
        self.group_of: dict = {}  # failed job -> its FailureGroup
        self._rule_time: dict = {}  # rule -> [seconds, jobs] of this run's finished jobs
        self._remaining: dict | None = None  # job -> recorded runtime (0: unknown); built at first ETA
        self._known = 0.0  # sum of the recorded runtimes in _remaining
        self._unknown: Counter = Counter()  # rule -> jobs in _remaining without a recorded runtime
        self.rough = False  # the last ETA priced a rule that has not run yet at others' mean

    # --- events --------------------------------------------------------------

    def on_run_started(self, scheduler) -> None:
        self.scheduler = scheduler
        self.started = time.time()
        rules = self.rules
        total = 0
        for job in scheduler.jobs:
            if not job.is_invariant and not job.lazy:  # counted(job), inline: once per job
                total += 1
                rule = job.rule
                entry = rules.get(rule)
                if entry is None:
                    entry = rules[rule] = [0, 0, 0, 0]
                entry[0] += 1
        self.total += total

    def on_job_finished(self, job, attempt: Attempt) -> None:
        spent = self._rule_time.setdefault(job.rule, [0.0, 0])
        spent[0] += attempt.stop - attempt.start
        spent[1] += 1
        if counted(job):
            self.done += 1
            self.ran += 1
            self._rule(job)[1] += 1
            self._settle(job)

    def on_job_skipped(self, job) -> None:
        if not job.is_invariant and not job.lazy:  # counted(job), inline: called for most jobs of a rerun
            self.done += 1
            self.up_to_date += 1
            self._rule(job)[1] += 1
            if self._remaining is not None:
                self._settle(job)

    def _rule(self, job) -> list:
        entry = self.rules.get(job.rule)
        if entry is None:
            entry = self.rules[job.rule] = [0, 0, 0, 0]
        return entry

    def on_job_failed(self, job, failure: Failure) -> None:
        self.failed += 1
        killed = failure.attempt is not None and failure.attempt.outcome == "killed"
        message = failure_message(job, failure.exception)
        if killed:
            message = f"{failure.reason}: {message}"
        key = (job.rule, _DIGITS.sub("#", message.replace(job.job_id, "\0")))
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = FailureGroup(job.rule, message, failure.traceback, failure.reason)
        group.jobs.append(job)
        self.group_of[job] = group
        if counted(job):
            self.failed_outputs += 1
            self._rule(job)[2] += 1
            self._settle(job)

    def on_job_blocked(self, job, cause) -> None:
        if counted(job):
            self.blocked += 1
            self._rule(job)[3] += 1
            self._settle(job)

    def on_jobs_generated(self, generator, new_jobs: list) -> None:
        new = [job for job in new_jobs if counted(job)]
        self.total += len(new)
        for job in new:
            self._rule(job)[0] += 1
        if self._remaining is not None:
            for job in new:
                self._add_remaining(job)

    # --- what the views ask ------------------------------------------------------

    def counts(self) -> dict:
        scheduler = self.scheduler
        running = len(scheduler.running_jobs()) if scheduler is not None else 0
        queued = len(scheduler.queued_jobs()) if scheduler is not None else 0
        return {"done": self.done, "total": self.total, "up_to_date": self.up_to_date, "ran": self.ran,
                "running": running, "queued": queued, "failed": self.failed, "blocked": self.blocked}

    def not_started(self) -> int:
        """Output jobs neither done, failed nor blocked (after a stop: never started)."""
        return max(0, self.total - self.done - self.failed_outputs - self.blocked)

    def rule_rows(self) -> list[dict]:
        """Per rule: output jobs, done, running, failed, blocked; the rules with jobs still
        to do first (most of them first), then the finished ones."""
        running: Counter = Counter()
        if self.scheduler is not None:
            for job, _started, _cores, _pid in self.scheduler.running_jobs():
                running[job.rule] += 1
        rows = [{"rule": rule, "jobs": jobs, "done": done, "running": running.get(rule, 0), "failed": failed,
                 "blocked": blocked} for rule, (jobs, done, failed, blocked) in self.rules.items()]
        rows.sort(key=lambda row: (row["done"] + row["failed"] + row["blocked"] >= row["jobs"],
                                   -(row["jobs"] - row["done"]), row["rule"]))
        return rows

    def elapsed(self) -> float:
        return time.time() - self.started

    def status_line(self, width: int | None = None) -> str:
        eta = self.eta()
        return status_text(self.counts(), self.elapsed(), eta, width, self.rough)

    def eta(self) -> float | None:
        """Seconds the remaining output jobs take on the available cores, or None when that
        cannot be estimated yet. A job's estimate is its recorded runtime, else the mean
        runtime of its rule in this run, else the mean of every job finished in this run.
        Jobs not decided yet count as if they run."""
        scheduler = self.scheduler
        self.rough = False
        if scheduler is None:
            return None
        if self._remaining is None:
            self._build_remaining()
        seconds = self._known
        if self._unknown:
            all_time = sum(spent[0] for spent in self._rule_time.values())
            all_jobs = sum(spent[1] for spent in self._rule_time.values())
            for rule, jobs in self._unknown.items():
                spent = self._rule_time.get(rule)
                if spent is not None:
                    seconds += jobs * spent[0] / spent[1]
                elif all_jobs:
                    seconds += jobs * all_time / all_jobs
                    self.rough = True  # a rule not seen yet, priced at the mean of the others
                else:
                    return None  # nothing ran yet and nothing is recorded
        now = time.time()
        longest = 0.0  # no ETA is shorter than the rest of the longest running job
        for job, started, _cores, _pid in scheduler.running_jobs():
            estimate = self._estimate(job)
            if estimate is not None:
                seconds -= min(estimate, now - started)  # the part already done
                longest = max(longest, estimate - (now - started))
        if not self._remaining:
            return None
        return math.ceil(max(0.0, seconds / max(1, scheduler.budget.parallelism), longest))

    # --- the remaining work ----------------------------------------------------

    def _build_remaining(self) -> None:
        self._remaining = {}
        state = self.scheduler.state
        for job in self.scheduler.jobs:
            if counted(job) and state.get(job) not in (DONE, SKIPPED, FAILED):
                self._add_remaining(job)

    def _add_remaining(self, job) -> None:
        runtime = self.scheduler.rebuilder.last_runtime(job)
        self._remaining[job] = runtime
        if runtime:
            self._known += runtime
        else:
            self._unknown[job.rule] += 1

    def _settle(self, job) -> None:
        if self._remaining is None:
            return
        runtime = self._remaining.pop(job, None)
        if runtime is None:
            return
        if runtime:
            self._known -= runtime
        else:
            rule = job.rule
            self._unknown[rule] -= 1
            if not self._unknown[rule]:
                del self._unknown[rule]

    def _estimate(self, job) -> float | None:
        runtime = self._remaining.get(job)
        if runtime is None:
            return None
        if runtime:
            return runtime
        spent = self._rule_time.get(job.rule)
        return spent[0] / spent[1] if spent else None
