"""The terminal while a graph runs: a status line, and commands typed on stdin.

Invariant: the console only listens and asks. It reads the run's progress and the
scheduler's running jobs, and forwards typed commands (stop, abort, kill N) to the
scheduler; it never changes a decision. It starts no threads (workers are forked, and
forking beside threads is unsafe): it is refreshed from the scheduler's loop. Commands
are read only when stdin is the terminal of the foreground process; the terminal is then
in cbreak mode (no echo, Ctrl-C still interrupts), and what is typed shows on a line of
its own below the status line, restored when the run ends. Without a terminal on stdout
it prints a plain progress line now and then.

    on a terminal:  done 120/500 (24%) · running 2 · failed 1 · blocked 3 · 0:01:23 · ETA 0:00:40
                    > kill 2
    Enter           a table of the running jobs; `help` lists the commands
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time

from ..plumbing.safe_files import printable
from .progress import clock

HELP = """commands (type and press Enter):
  <Enter>   list the running jobs
  stop      start nothing new, let running jobs finish, then end the run
  abort     kill the running jobs, start nothing new, end the run
  kill N    kill job number N of the last list (press Enter first); it counts as failed
  help      this text"""

PLAIN_INTERVAL = 10.0  # seconds between progress lines when stdout is not a terminal
LIVE_INTERVAL = 0.5
HOST = socket.gethostname()


def running_rows(scheduler) -> list[dict]:
    """The running jobs as `ppg top` and the console list them."""
    return [{"job": job.job_id, "rule": job.rule, "started": started, "cores": cores,
             "pid": pid or None, "host": HOST if pid else None}
            for job, started, cores, pid in scheduler.running_jobs()]


def running_table(rows: list[dict], now: float) -> str:
    """`#  job  rule  running  cores  pid  host`, one numbered row per running job."""
    if not rows:
        return "no job is running"
    table = [("#", "job", "rule", "running", "cores", "pid", "host")]
    for number, row in enumerate(rows, 1):
        table.append((str(number), row["job"], row["rule"], clock(now - row["started"]), str(row["cores"]),
                      str(row["pid"] or "-"), row["host"] or "-"))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in table)


class LineEditor:
    """Keys typed in cbreak mode, turned into command lines (Enter ends one)."""

    def __init__(self):
        self.buffer = ""
        self._escape = False

    def feed(self, text: str) -> list[str]:
        """Consume keys; returns the completed lines. Ctrl-D on an empty line ends input (None)."""
        lines = []
        for char in text:
            if self._escape:  # skip an escape sequence (arrow keys): ESC [ ... letter
                self._escape = not (char.isalpha() or char == "~")
            elif char == "\x1b":
                self._escape = True
            elif char in "\r\n":
                lines.append(self.buffer)
                self.buffer = ""
            elif char in "\x7f\x08":
                self.buffer = self.buffer[:-1]
            elif char == "\x15":  # Ctrl-U
                self.buffer = ""
            elif char == "\x04" and not self.buffer:
                lines.append(None)
            elif char.isprintable():
                self.buffer += char
        return lines


class Console:
    """Status display and command input for one run."""

    def __init__(self, quiet: bool = False, interactive: bool | None = None, stream=None, stdin=None):
        self.stream = stream or sys.stdout
        self.stdin = stdin or sys.stdin
        self.quiet = quiet
        self.tty = _isatty(self.stream)
        if interactive is None:
            interactive = self.tty
        self.interactive = bool(interactive) and _foreground_terminal(self.stdin)
        self.scheduler = None
        self.progress = None
        self._last = 0.0
        self._live = None
        self._saved_mode = None  # the terminal's mode before cbreak, restored at stop()
        self._editor = LineEditor()
        self._listed: list = []  # the job ids of the running-jobs table shown last
        self._shown_groups: set = set()  # failure groups whose first failure was printed

    # --- lifecycle -----------------------------------------------------------

    def start(self, scheduler, progress) -> None:
        self.scheduler = scheduler
        self.progress = progress
        if self.interactive and self.tty:  # else the terminal echoes and edits lines itself
            self._cbreak()
        if self.tty and (not self.quiet or self.interactive):
            from rich.console import Console as RichConsole
            from rich.live import Live

            self._live = Live("", console=RichConsole(file=self.stream), auto_refresh=False,
                              transient=True)
            self._live.start()
        if self.interactive and not self.quiet:
            self.print("Press Enter for the running jobs, type 'help' for commands.")

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._restore()

    def print(self, text: str) -> None:
        text = printable(text)
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, crop=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    # --- what the scheduler calls ----------------------------------------------

    def inputs(self) -> list:
        """File objects the scheduler's wait should watch (stdin when interactive)."""
        return [self.stdin] if self.interactive else []

    def handle_ready(self, readable) -> None:
        """Read what was typed if stdin is among the `readable` objects."""
        if self.interactive and self.stdin in readable:
            self.handle_input()

    def handle_input(self) -> None:
        try:
            data = os.read(self.stdin.fileno(), 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # stdin closed: stop listening, never spin on it
            self._stop_listening()
            return
        for line in self._editor.feed(data.decode(errors="replace")):
            if line is None:
                self._stop_listening()
                return
            self.print("> " + line if line else ">")
            self.command(line.strip())
        self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        if self.scheduler is None or (self.quiet and self._live is None):
            return
        now = time.time()
        interval = LIVE_INTERVAL if self._live is not None else PLAIN_INTERVAL
        if not force and now - self._last < interval:
            return
        self._last = now
        if self._live is None:
            self.print(self.progress.status_line())
            return
        from rich.text import Text

        lines = [] if self.quiet else [self.progress.status_line()]
        if self.interactive and self._editor.buffer:
            lines.append("> " + self._editor.buffer)
        self._live.update(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"), refresh=True)

    def job_failed(self, job, group) -> None:
        """The first failure of each rule and message is printed (even when quiet); the
        others are counted in the status line and listed at the end."""
        if id(group) in self._shown_groups:
            if len(group.jobs) == 2:
                self.print(f"FAILED {job.job_id}: the same error again; further {group.rule} jobs failing "
                           "this way are counted, not printed")
            return
        self._shown_groups.add(id(group))
        self.print(f"FAILED {job.job_id}: {group.message}"[:300])

    # --- commands --------------------------------------------------------------

    def command(self, text: str) -> None:
        scheduler = self.scheduler
        if text == "":
            rows = running_rows(scheduler)
            self._listed = [row["job"] for row in rows]
            self.print(running_table(rows, time.time()))
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
            job_id = listed[int(argument) - 1]
        except (ValueError, IndexError):
            self.print(f"kill takes a number from the last list of running jobs (1-{len(listed)}); "
                       "press Enter for the list")
            return
        self.print(kill_by_id(self.scheduler, job_id))

    # --- the terminal's mode ---------------------------------------------------

    def _cbreak(self) -> None:
        import termios
        import tty

        try:
            fd = self.stdin.fileno()
            self._saved_mode = termios.tcgetattr(fd)
            tty.setcbreak(fd, termios.TCSANOW)
        except (termios.error, OSError, ValueError):
            self._saved_mode = None

    def _restore(self) -> None:
        if self._saved_mode is None:
            return
        import termios

        try:
            termios.tcsetattr(self.stdin.fileno(), termios.TCSANOW, self._saved_mode)
        except (termios.error, OSError, ValueError):
            pass
        self._saved_mode = None

    def _stop_listening(self) -> None:
        self.interactive = False
        self._restore()


def kill_by_id(scheduler, job_id: str, origin: str = "the console") -> str:
    """Kill the running job `job_id`; the answer in words (the console's and `ppg top`'s)."""
    for job, _started, _cores, _pid in scheduler.running_jobs():
        if job.job_id == job_id:
            scheduler.kill_job(job, f"killed from {origin}")
            return f"killing {job_id}"
    return f"{job_id} is not running any more; press Enter for the current list"


class Controls:
    """What the scheduler's wait loop watches: the inputs of every view (the console's
    stdin, `ppg top`'s socket), dispatched to the view they belong to, and their ticks."""

    def __init__(self, *views):
        self.views = views

    def inputs(self) -> list:
        return [obj for view in self.views for obj in view.inputs()]

    def handle_input(self) -> None:
        watched = self.inputs()
        readable = set(select.select(watched, [], [], 0)[0]) if watched else set()
        for view in self.views:
            view.handle_ready(readable)

    def tick(self) -> None:
        for view in self.views:
            view.tick()


def _isatty(stream) -> bool:
    try:
        return stream.isatty() and os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _foreground_terminal(stdin) -> bool:
    """stdin is a terminal and this process is in its foreground (a background job that
    read from it, or changed its mode, would be stopped by the terminal)."""
    if not _isatty(stdin):
        return False
    try:
        return os.tcgetpgrp(stdin.fileno()) == os.getpgrp()
    except OSError:
        return False
