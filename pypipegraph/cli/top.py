"""ppg top: the pipeline running in this directory, live, from any shell.

Invariant: `ppg top` only asks the running pipeline (control.ask over its private Unix
socket); it reads no store and changes nothing itself. `stop`, `abort` and `kill N` are
the console's commands, carried out by the pipeline. Without a terminal, or with
`--once`, it prints snapshots instead of redrawing the screen.

    ppg top                # live; type stop, abort, kill N, q
    ppg top --once         # one snapshot, then exit (scripts)
    ppg top --kill out/a   # or --stop / --abort
"""

from __future__ import annotations

import os
import select
import sys
import time

from ..views.console import HELP, LineEditor, running_table
from ..views.control import ControlError, ask
from ..views.progress import clock, status_text
from . import CommandError

TOP_HELP = HELP.replace("<Enter>   list the running jobs", "<Enter>   refresh now").replace(
    "of the last list (press Enter first)", "of the list above").replace(
    "  help      this text", "  q         quit ppg top (the run goes on)\n  help      this text")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "top", help="the running pipeline: its jobs, progress, ETA; stop, abort or kill jobs",
        description="Show the pipeline running in this directory (started in a terminal or not) and "
                    "steer it: type stop, abort or kill N, as in its console.")
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    command = parser.add_mutually_exclusive_group()
    command.add_argument("--stop", action="store_true", help="let running jobs finish, start nothing new")
    command.add_argument("--abort", action="store_true", help="kill the running jobs and end the run")
    command.add_argument("--kill", metavar="JOB", help="kill a running job (its id, or N of --once's list)")
    return parser


def render(snap: dict) -> str:
    """One snapshot as text: who runs where, the status line, the running jobs, failures."""
    state = "" if snap["state"] == "running" else f" ({snap['state']})"
    lines = [
        f"{os.path.basename(snap['script']) or 'pipeline'}: pid {snap['pid']} on {snap['host']}, "
        f"{snap['cores']} cores, in {snap['cwd']}{state}",
        status_text(snap["counts"], snap["now"] - snap["started"], snap["eta"]),
        "",
        running_table(snap["running"], snap["now"]),
    ]
    failures = snap["failures"]
    if failures:
        lines += ["", "failures:"]
        for group in failures[:8]:
            lines.append(f"  {group['jobs']} of {group['rule']} ({group['first']}"
                         f"{', ...' if group['jobs'] > 1 else ''}): {group['message']}"[:200])
        if len(failures) > 8:
            lines.append(f"  ... and {len(failures) - 8} more kinds")
    return "\n".join(lines)


def run(args) -> int:
    store = args.store
    try:
        if args.stop or args.abort or args.kill:
            print(_command(store, args))
            return 0
        if args.once:
            print(render(_snapshot(store)))
            return 0
        if sys.stdout.isatty() and sys.stdin.isatty():
            return _live(store, args.interval)
        return _plain(store, args.interval)
    except ControlError as exc:
        raise CommandError(str(exc)) from exc
    except KeyboardInterrupt:  # Ctrl-C ends ppg top, never the run
        print()
        return 130


def _snapshot(store: str) -> dict:
    return ask(store, {"ask": "snapshot"})


def _command(store: str, args, listed: list | None = None) -> str:
    if args.stop:
        answer = ask(store, {"ask": "stop"})
    elif args.abort:
        answer = ask(store, {"ask": "abort"})
    else:
        job = args.kill
        if job.isdigit():
            rows = listed if listed is not None else _snapshot(store)["running"]
            if not 1 <= int(job) <= len(rows):
                return f"kill takes a number from the list of running jobs (1-{len(rows)}) or a job id"
            job = rows[int(job) - 1]["job"]
        answer = ask(store, {"ask": "kill", "job": job})
    if "error" in answer:
        raise CommandError(answer["error"])
    return answer["message"]


def _plain(store: str, interval: float) -> int:
    """Snapshots one after another (a pipe, a log file) until the run ends."""
    while True:
        try:
            snap = _snapshot(store)
        except ControlError:
            print("the run ended")
            return 0
        print(time.strftime("%H:%M:%S"), render(snap), "", sep="\n", flush=True)
        time.sleep(interval)


class _Args:
    def __init__(self, stop=False, abort=False, kill=None):
        self.stop, self.abort, self.kill = stop, abort, kill


def _live(store: str, interval: float) -> int:
    """Redraw the screen every `interval`; read commands typed meanwhile (cbreak mode)."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)
    editor = LineEditor()
    message = "type stop, abort, kill N, help or q"
    snap = _snapshot(store)  # no pipeline: the error before the screen is cleared
    try:
        next_refresh = 0.0
        while True:
            now = time.time()
            if now >= next_refresh:
                try:
                    snap = _snapshot(store)
                except ControlError:
                    sys.stdout.write("\nthe run ended\n")
                    return 0
                next_refresh = now + interval
            sys.stdout.write("\x1b[H\x1b[2J" + render(snap).replace("\n", "\r\n") + "\r\n\r\n"
                             + message.replace("\n", "\r\n") + "\r\n> " + editor.buffer)
            sys.stdout.flush()
            if not select.select([fd], [], [], max(0.05, next_refresh - time.time()))[0]:
                continue
            data = os.read(fd, 1024).decode(errors="replace")
            for line in editor.feed(data) if data else [None]:
                if line is None or line.strip() in ("q", "quit"):
                    sys.stdout.write("\r\n")
                    return 0
                try:
                    message = _typed(store, line.strip(), snap["running"])
                except (CommandError, ControlError) as exc:
                    message = str(exc)
                next_refresh = 0.0
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _typed(store: str, text: str, listed: list) -> str:
    """Carry out one typed command; the answer to show under the table."""
    if text == "":
        return f"refreshed at {clock(time.time() % 86400)} UTC"
    if text == "help":
        return TOP_HELP
    if text in ("stop", "abort"):
        return _command(store, _Args(stop=text == "stop", abort=text == "abort"))
    if text.startswith("kill"):
        argument = text[4:].strip()
        if not argument.isdigit():
            return "kill takes the number of a running job in the list above"
        return _command(store, _Args(kill=argument), listed)
    return f"unknown command {text!r}; type 'help'"
