"""Command jobs: an external program (argv list or shell string) that writes files.

Invariant: a command job is an output job (its fingerprint is the hash of its output
files) whose command text, environment additions, working directory, shell and
accepted return codes are a CommandInvariant upstream of it, so changing any of them
reruns it and `ppg why` shows the change. The command's stdout and stderr stream to
logs/jobs/<job>/ while it runs (to a temporary directory when there is no logs/),
their tail goes to job.stdout / job.stderr. It counts as done only when the program
exited with an accepted code and wrote every declared output; any other outcome is a
CommandFailed that quotes the command and the last lines of its stderr.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping

from ..child_process import read_tail, run_program
from ..errors import PyPipeGraphError
from ..logs import LOG_DIR, job_log_dir
from .base import Job
from .invariants import ParameterInvariant
from .output import MultiFileGeneratingJob, outputs_state

KEPT_BYTES = 64 << 10  # of each stream, stored as job.stdout / job.stderr
QUOTED_LINES = 20  # of stderr, quoted in a failure's message


class CommandFailed(PyPipeGraphError):
    """A command job's program failed; `.returncode` (None when it did not start,
    minus the signal number when killed), `.command` (the text) and `.stderr_tail`."""

    def __init__(self, message: str, returncode: int | None = None, command: str = "",
                 stderr_tail: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.command = command
        self.stderr_tail = stderr_tail


class CommandInvariant(ParameterInvariant):
    """What defines a command job's run: cmd, env additions, cwd, shell, ok codes (id 'CI' + job id)."""

    id_prefix = "CI"

    def change_description(self) -> str:
        return f"command of {self.job_id[len(self.id_prefix):]} changed"


class CommandJob(MultiFileGeneratingJob):
    """Runs an external program that writes `output_files` (one name or a list).

    `cmd` is a list (argv, run without a shell) or a str (run by /bin/sh -c; `shell`
    may name another shell, e.g. "bash"). `env` adds variables to the inherited
    environment; `cwd` is the program's working directory (outputs are still named
    relative to the pipeline's directory); `ok_returncodes` are the exit codes that
    count as success. The job id is the output file (several: sorted, joined by ':').
    """

    def __new__(cls, output_files, *args, **kwargs):
        return Job.__new__(cls, _command_id(output_files))

    def __init__(self, output_files, cmd, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, ok_returncodes=(0,),
                 shell: bool | str | None = None, rename_broken: bool = False,
                 empty_ok: bool = False):
        names = _output_names(output_files)
        argv, text = self._check_cmd(cmd, shell)
        env = self._check_env(env)
        cwd = self._check_cwd(cwd)
        ok = self._check_ok_codes(ok_returncodes)
        parameters = {"cmd": text if isinstance(cmd, str) else list(argv), "env": env,
                      "cwd": cwd, "shell": shell, "ok_returncodes": ok}
        if self._init_once((repr(parameters), bool(rename_broken), bool(empty_ok))):
            return
        self.parameters = parameters
        self.uses_shell = bool(shell) or (shell is None and isinstance(cmd, str))
        self.filenames = names
        self.argv = argv
        self.command_text = text
        self.env = env
        self.cwd = cwd
        self.ok_returncodes = ok
        self.rename_broken = bool(rename_broken)
        self.empty_ok = bool(empty_ok)
        self._graph.claim_outputs(self)
        self._claim_log_dir()
        self._register()

    def _claim_log_dir(self) -> None:
        """Two command jobs whose ids sanitise to one log directory would mix their logs."""
        claimed = vars(self._graph).setdefault("command_log_dirs", {})
        other = claimed.setdefault(self.log_dir(), self)
        if other is not self:
            raise ValueError(f"CommandJob {self.job_id!r}: its log directory {self.log_dir()} is already "
                             f"used by CommandJob {other.job_id!r}. Rename one of their output files.")

    # --- checking the definition --------------------------------------------

    def _error(self, cls, text: str):
        return cls(f"CommandJob {self.job_id!r}: {text}")

    def _check_cmd(self, cmd, shell) -> tuple[list[str], str]:
        """(argv to execute, the command as the user reads it)."""
        if shell is not None and not isinstance(shell, (bool, str)):
            raise self._error(TypeError, f"shell must be None, True, False or the shell's name, got {shell!r}")
        if isinstance(cmd, str):
            if not cmd.strip():
                raise self._error(ValueError, "cmd is an empty string; give the command to run.")
            if shell is False:
                argv = shlex.split(cmd)
                return argv, shlex.join(argv)
            return [_shell_name(shell), "-c", cmd], cmd
        if not isinstance(cmd, (list, tuple)):
            raise self._error(TypeError, "cmd must be a str (run by the shell) or a list of str (the "
                              f"program and its arguments), got {type(cmd).__name__} {cmd!r:.100}")
        if not cmd:
            raise self._error(ValueError, "cmd is an empty list; give the program and its arguments.")
        argv = []
        for i, item in enumerate(cmd):
            if isinstance(item, os.PathLike):
                item = os.fspath(item)
            if not isinstance(item, str):
                raise self._error(TypeError, f"cmd[{i}] is {type(item).__name__} {item!r:.100}; every "
                                  f"item of the list must be a str (write {str(item)!r:.100}).")
            argv.append(item)
        text = shlex.join(argv)
        if shell:
            return [_shell_name(shell), "-c", text], text
        return argv, text

    def _check_env(self, env) -> dict[str, str]:
        if env is None:
            return {}
        if not isinstance(env, Mapping):
            raise self._error(TypeError, f"env must be a dict of str to str, got {type(env).__name__} {env!r:.100}")
        for key, value in env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise self._error(TypeError, f"env must map str to str; env[{key!r}] is "
                                  f"{type(value).__name__} {value!r:.100} (write {str(value)!r:.100}).")
        return dict(sorted(env.items()))

    def _check_cwd(self, cwd) -> str | None:
        if cwd is None:
            return None
        if isinstance(cwd, os.PathLike):
            cwd = os.fspath(cwd)
        if not isinstance(cwd, str):
            raise self._error(TypeError, f"cwd must be a directory name (str or Path), got {cwd!r:.100}")
        return cwd

    def _check_ok_codes(self, codes) -> tuple[int, ...]:
        if isinstance(codes, int) and not isinstance(codes, bool):
            codes = (codes,)
        try:
            ok = tuple(sorted(set(codes)))
        except TypeError:
            ok = ()
        if not ok or not all(isinstance(c, int) and not isinstance(c, bool) for c in ok):
            raise self._error(TypeError, f"ok_returncodes must be a list of int exit codes, e.g. [0, 1]; "
                              f"got {codes!r:.100}")
        return ok

    # --- what the engine asks ------------------------------------------------

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [CommandInvariant(self.job_id, self.parameters)]

    def log_dir(self) -> str:
        """logs/jobs/<job>: where stdout and stderr stream while the command runs."""
        return job_log_dir(self.job_id)

    def run_in_worker(self) -> list[tuple[str, int, int, int]]:
        """Run the program, check it, return (name, mtime_ns, size, hash) per output."""
        streamed = os.path.isdir(LOG_DIR)
        directory = self.log_dir() if streamed else tempfile.mkdtemp(prefix="ppg_command_")
        try:
            os.makedirs(directory, exist_ok=True)
            out, err = os.path.join(directory, "stdout"), os.path.join(directory, "stderr")
            self._write_command_file(directory)
            try:
                returncode = self._run(out, err)
            finally:
                self._keep_tails(out, err)
            self._check_outcome(returncode, err)
        except BaseException:
            self.remove_partial_outputs()
            raise
        finally:
            if not streamed:
                shutil.rmtree(directory, ignore_errors=True)
        return outputs_state(self.filenames)

    # --- running -------------------------------------------------------------

    def _write_command_file(self, directory: str) -> None:
        lines = [f"# {self.job_id}", f"cd {shlex.quote(os.path.abspath(self.cwd or '.'))}"]
        lines += [f"export {key}={shlex.quote(value)}" for key, value in self.env.items()]
        lines.append(shlex.join(self.argv))
        with open(os.path.join(directory, "command"), "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def _run(self, out: str, err: str) -> int:
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise self._failure(None, f"its working directory {self.cwd} does not exist. Create it "
                                "first (or depend on the job that makes it).", err)
        env = dict(os.environ, **self.env) if self.env else None
        try:
            return run_program(self.argv, out, err, self.cwd, env)
        except FileNotFoundError:
            raise self._failure(None, f"the program {self.argv[0]!r} was not found. Install it, or "
                                "give its full path (PATH is searched when the name has no '/').",
                                err) from None
        except PermissionError:
            raise self._failure(None, f"the program {self.argv[0]!r} is not executable (permission "
                                "denied).", err) from None

    def _keep_tails(self, out: str, err: str) -> None:
        """The tail of each stream becomes the job's stdout / stderr (kept in the store)."""
        for path, stream in ((out, sys.stdout), (err, sys.stderr)):
            text = read_tail(path, KEPT_BYTES)
            if text:
                stream.write(text)
                stream.flush()

    def _check_outcome(self, returncode: int, err: str) -> None:
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = str(-returncode)
            raise self._failure(returncode, f"was killed by signal {name}.", err)
        if returncode not in self.ok_returncodes:
            accepted = ", ".join(str(c) for c in self.ok_returncodes)
            hint = " (127: the shell did not find the program)" if returncode == 127 and self.uses_shell else ""
            raise self._failure(returncode, f"exited with code {returncode}{hint} (ok_returncodes: "
                                f"{accepted}).", err)
        missing = [name for name in self.filenames if not os.path.exists(name)]
        if missing:
            where = " (names are relative to the pipeline's directory, not to cwd)" if self.cwd else ""
            raise self._failure(returncode, f"exited with code {returncode} but did not write "
                                f"{', '.join(missing)}. The command must write every declared "
                                f"output{where}.", err)

    def _failure(self, returncode: int | None, what: str, err: str) -> CommandFailed:
        text = self.command_text if len(self.command_text) <= 500 else self.command_text[:500] + " ..."
        tail = read_tail(err, 16 << 10).rstrip("\n").splitlines()[-QUOTED_LINES:]
        if returncode is None:
            message = f"CommandJob {self.job_id!r}: cannot run `{text}`: {what}"
        else:
            message = f"CommandJob {self.job_id!r}: the command `{text}` {what}"
        if tail:
            where = err if err.startswith(LOG_DIR) else "stderr"
            message += f"\nLast lines of {where}:\n" + "\n".join("  " + line for line in tail)
        elif returncode is not None:
            message += "\nIt wrote nothing to stderr."
        return CommandFailed(message, returncode, self.command_text, "\n".join(tail))


def _shell_name(shell) -> str:
    return shell if isinstance(shell, str) else "/bin/sh"


def _output_names(output_files) -> list[str]:
    if isinstance(output_files, (str, os.PathLike)):
        return [os.fspath(output_files)]
    return [os.fspath(name) for name in output_files]


def _command_id(output_files) -> str:
    if isinstance(output_files, (str, os.PathLike)):
        output_files = [output_files]
    if not isinstance(output_files, (list, tuple)) or not all(
            isinstance(name, (str, os.PathLike)) for name in output_files):
        raise TypeError(f"CommandJob: output_files must be a filename or a list of filenames, "
                        f"got {output_files!r:.100}")
    if not output_files:
        raise ValueError("CommandJob: output_files is empty; a command job must declare the file(s) "
                         "its command writes (the engine checks and hashes them).")
    names = [os.fspath(name) for name in output_files]
    if len(names) == 1:
        return names[0]
    if len(set(names)) != len(names):
        raise ValueError(f"CommandJob: output files listed twice in {names!r}")
    return ":".join(sorted(names))
