"""The terminal while a graph runs: a status line, and commands typed on stdin.

Invariant: the console only listens and asks. It reads the scheduler's state and
forwards typed commands (stop, abort, kill N) to it; it never changes a decision. It
starts no threads (workers are forked, and forking beside threads is unsafe): it is
refreshed from the scheduler's loop. Without a terminal on stdin it reads nothing;
without one on stdout it prints a plain progress line now and then.

    on a terminal:  ran 120 | running 2 | waiting 45 | failed 1 | up to date 9000 | 0:01:23, ETA 0:00:40
    Enter           a table of the running jobs; `help` lists the commands
"""

from __future__ import annotations

import os
import sys
import time

from .safe_files import printable

HELP = """commands (type and press Enter):
  <Enter>   list the running jobs
  stop      start nothing new, let running jobs finish, then end the run
  abort     kill the running jobs, start nothing new, end the run
  kill N    kill job number N of the last list (press Enter first); it counts as failed
  help      this text"""

PLAIN_INTERVAL = 10.0  # seconds between progress lines when stdout is not a terminal
LIVE_INTERVAL = 0.5


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Console:
    """Status display and command input for one run."""

    def __init__(self, quiet: bool = False, interactive: bool | None = None, stream=None, stdin=None):
        self.stream = stream or sys.stdout
        self.stdin = stdin or sys.stdin
        self.quiet = quiet
        self.tty = _isatty(self.stream)
        if interactive is None:
            interactive = _isatty(self.stdin) and self.tty
        self.interactive = bool(interactive) and _isatty(self.stdin)
        self.scheduler = None
        self.started = time.time()
        self._last = 0.0
        self._live = None
        self._listed: list = []  # the jobs of the running-jobs table shown last

    # --- lifecycle -----------------------------------------------------------

    def start(self, scheduler) -> None:
        self.scheduler = scheduler
        self.started = time.time()
        if self.quiet:
            return
        if self.tty:
            from rich.console import Console as RichConsole
            from rich.live import Live

            self._live = Live("", console=RichConsole(file=self.stream), auto_refresh=False,
                              transient=True)
            self._live.start()
        if self.interactive:
            self.print("Press Enter for the running jobs, type 'help' for commands.")

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def print(self, text: str) -> None:
        text = printable(text)
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    # --- what the scheduler calls ----------------------------------------------

    def inputs(self) -> list:
        """File objects the scheduler's wait should watch (stdin when interactive)."""
        return [self.stdin] if self.interactive else []

    def tick(self, force: bool = False) -> None:
        if self.quiet or self.scheduler is None:
            return
        now = time.time()
        interval = LIVE_INTERVAL if self._live is not None else PLAIN_INTERVAL
        if not force and now - self._last < interval:
            return
        self._last = now
        line = self.status_line()
        if self._live is not None:
            self._live.update(line, refresh=True)
        else:
            self.print(line)

    def job_failed(self, job) -> None:
        """Errors show even when quiet."""
        exc = job.exception
        self.print(f"FAILED {job.job_id}: {type(exc).__name__}: {exc}".splitlines()[0][:300])

    def status_line(self) -> str:
        counts = self.scheduler.progress()
        elapsed = time.time() - self.started
        eta = counts.pop("eta", None)
        parts = [f"{name} {value}" for name, value in counts.items()]
        timing = _clock(elapsed) + (f", ETA {_clock(eta)}" if eta is not None else "")
        return " | ".join(parts + [timing])

    # --- commands --------------------------------------------------------------

    def handle_input(self) -> None:
        line = self.stdin.readline()
        if line == "":  # stdin closed: stop listening, never spin on it
            self.interactive = False
            return
        self.command(line.strip())

    def command(self, text: str) -> None:
        scheduler = self.scheduler
        if text == "":
            self.print(self.running_table())
        elif text == "help":
            self.print(HELP)
        elif text == "stop":
            scheduler.request_stop()
            self.print("stopping: no new jobs start; waiting for the running ones to finish")
        elif text == "abort":
            scheduler.request_abort()
            self.print("aborting: killing the running jobs")
        elif text.startswith("kill"):
            self._kill(text[4:].strip())
        else:
            self.print(f"unknown command {text!r}; type 'help'")

    def _kill(self, argument: str) -> None:
        """`kill N`: N is the number in the table shown last (Enter shows a fresh one)."""
        listed = self._listed
        try:
            job = listed[int(argument) - 1]
        except (ValueError, IndexError):
            self.print(f"kill takes a number from the last list of running jobs (1-{len(listed)}); "
                       "press Enter for the list")
            return
        if job not in {running[0] for running in self.scheduler.running_jobs()}:
            self.print(f"{job.job_id} is not running any more; press Enter for the current list")
            return
        self.scheduler.kill_job(job)
        self.print(f"killing {job.job_id}")

    def running_table(self) -> str:
        running = self.scheduler.running_jobs()
        self._listed = [job for job, _, _, _ in running]
        if not running:
            return "no job is running"
        now = time.time()
        rows = [("#", "job", "running", "cores", "pid")]
        for number, (job, started, cores, pid) in enumerate(running, 1):
            rows.append((str(number), job.job_id, _clock(now - started), str(cores), str(pid)))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )


def _isatty(stream) -> bool:
    try:
        return stream.isatty() and os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False
