"""The words a run ends with: what ran, the failures grouped by rule and message, where the
logs are and how to continue; and the short message of the error `run()` raises.

Invariant: a pure rendering of `progress.Progress` (no I/O, no state). However many jobs
failed, the text grows with the number of groups (rule and message), not of jobs: one
traceback per group is shown, the other jobs of the group are counted.
"""

from __future__ import annotations

from .progress import Progress, clock

GROUPS_WITH_TRACEBACK = 3  # groups whose first traceback is shown
GROUPS_LISTED = 12  # groups listed at all; the rest are counted
TRACEBACK_LINES = 12  # the last lines of a traceback (the user's frames and the error)

ENDINGS = {
    "stopped": "The run was stopped (`stop`): running jobs finished, nothing new started.",
    "aborted": "The run was aborted (`abort`): the running jobs were killed, their partial outputs removed.",
    "interrupted": "The run was interrupted (Ctrl-C): the running jobs were killed, their partial outputs "
                   "removed.",
}


def headline(progress: Progress) -> str:
    """`pypipegraph: 3 job(s) ran, 1 failed, 2 blocked, 9 up to date; 15 jobs in the graph (0:00:05).`"""
    parts = [f"{progress.ran} job(s) ran", f"{progress.failed} failed"]
    if progress.blocked:
        parts.append(f"{progress.blocked} blocked")
    if progress.up_to_date:
        parts.append(f"{progress.up_to_date} up to date")
    return (f"pypipegraph: {', '.join(parts)}; {progress.total} jobs in the graph "
            f"({clock(progress.elapsed())}).")


def _jobs(group, limit: int = 3) -> str:
    names = [job.job_id for job in group.jobs[:limit]]
    more = len(group.jobs) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")


def _group_title(group) -> str:
    count = len(group.jobs)
    jobs = "1 job" if count == 1 else f"{count} jobs"
    return f"{jobs} of {group.rule} ({_jobs(group)}): {group.message}"


def failure_report(progress: Progress) -> list[str]:
    """Lines listing the failure groups, the first traceback of the first groups indented."""
    groups = list(progress.groups.values())
    if not groups:
        return []
    kinds = "1 kind" if len(groups) == 1 else f"{len(groups)} kinds"
    lines = [f"Failures ({progress.failed} job(s), {kinds}):"]
    for number, group in enumerate(groups[:GROUPS_LISTED]):
        lines.append("  " + _group_title(group))
        if number < GROUPS_WITH_TRACEBACK and group.traceback:
            tail = group.traceback.rstrip("\n").splitlines()
            if len(tail) > TRACEBACK_LINES:
                tail = ["..."] + tail[-TRACEBACK_LINES:]
            lines.extend("      " + line for line in tail)
    if len(groups) > GROUPS_LISTED:
        rest = groups[GROUPS_LISTED:]
        lines.append(f"  ... and {len(rest)} more kinds ({sum(len(g.jobs) for g in rest)} jobs)")
    return lines


def ending(progress: Progress, outcome: str, errors_file: str | None, run_log: str | None) -> str:
    """The summary printed when a run ends; `outcome` is ok, failed, stopped, aborted or interrupted."""
    lines = []
    if outcome in ENDINGS:
        lines.append(ENDINGS[outcome])
    lines.append(headline(progress))
    if outcome == "ok":
        return "\n".join(lines)
    lines.extend(failure_report(progress))
    if progress.blocked:
        lines.append(f"{progress.blocked} job(s) did not run because an upstream job failed (blocked).")
    if errors_file:
        lines.append(f"Logs: {errors_file} (every traceback, stdout and stderr), {run_log} (why each job ran).")
    else:
        lines.append("Logs: none kept (create a logs/ directory to get logs/ppg_errors.txt and "
                     "logs/ppg_run.txt); `ppg log JOB` shows a job's stored output.")
    if progress.failed:
        lines.append("To continue: fix the failing jobs and run the script again; finished jobs are not "
                     "redone. `ppg status --state failed` lists the failed jobs.")
    else:
        lines.append("To continue: run the script again; finished jobs are not redone.")
    return "\n".join(lines)


def error_message(progress: Progress, failed: list, where: str) -> str:
    """The message of the ppg.RuntimeError: one line per failure group, not per job."""
    groups = list(progress.groups.values())
    lines = []
    for group in groups[:GROUPS_LISTED]:
        if len(group.jobs) == 1:
            job = group.jobs[0]
            lines.append(f"  {job.job_id}: {type(job.exception).__name__}: {job.exception}")
        else:
            lines.append("  " + _group_title(group))
    if len(groups) > GROUPS_LISTED:
        lines.append(f"  ... and {len(groups) - GROUPS_LISTED} more kinds of failure")
    blocked = f" ({progress.blocked} more did not run because of them)" if progress.blocked else ""
    return f"{len(failed)} job(s) failed{blocked}:\n" + "\n".join(lines) + "\n" + where
