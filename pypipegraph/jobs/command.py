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

from ..errors import PyPipeGraphError
from ..paths import LOG_DIR, job_log_dir
from ..plumbing.child_process import read_tail, run_program
from ..plumbing.safe_files import write_file
from . import command_steps
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

    `steps=[cmd, (cmd, [files]), ...]` instead of `cmd`: commands run one after the
    other; after a failure, the next run starts at the failed step when the earlier
    steps' files are intact (command_steps.py). `values=True`: the command may write
    `name=value` lines to $PPG_OUTPUTS; `job.values()` reads them (kept in the output
    file `<first output>.values`). The places of the task are in the environment
    (PLACES, docs/jobs-command.md).
    """

    def __new__(cls, output_files, *args, **kwargs):
        return Job.__new__(cls, _command_id(output_files))

    def __init__(self, output_files, cmd=None, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, ok_returncodes=(0,),
                 shell: bool | str | None = None, rename_broken: bool = False,
                 empty_ok: bool = False, *, steps: list | None = None, values: bool = False):
        names = _output_names(output_files)
        steps = self._check_steps(cmd, steps, shell)
        env = self._check_env(env)
        cwd = self._check_cwd(cwd)
        ok = self._check_ok_codes(ok_returncodes)
        parameters = {"cmd": [_defined(c, argv) for c, (argv, _, _) in zip(self._raw, steps, strict=True)],
                      "env": env, "cwd": cwd, "shell": shell, "ok_returncodes": ok}
        if cmd is not None:
            parameters["cmd"] = parameters["cmd"][0]
        else:
            parameters["step_files"] = [files for _, _, files in steps]
        if values:
            parameters["values"] = True
            names = names + [names[0] + ".values"]
        if self._init_once((repr(parameters), bool(rename_broken), bool(empty_ok))):
            return
        self.parameters = parameters
        self.uses_shell = bool(shell) or (shell is None and any(isinstance(c, str) for c in self._raw))
        self.filenames = names
        self.steps = steps
        self.values_file = names[-1] if values else None
        self.code_dir = _script_dir()
        self.argv = steps[0][0]
        self.command_text = " && ".join(text for _, text, _ in steps)
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
        other = self._graph.command_log_dirs.setdefault(self.log_dir(), self)
        if other is not self:
            raise ValueError(f"CommandJob {self.job_id!r}: its log directory {self.log_dir()} is already "
                             f"used by CommandJob {other.job_id!r}. Rename one of their output files.")

    # --- checking the definition --------------------------------------------

    def _error(self, cls, text: str):
        return cls(f"CommandJob {self.job_id!r}: {text}")

    def _check_steps(self, cmd, steps, shell) -> list[tuple[list[str], str, list[str]]]:
        """(argv, text, declared files) per step; one step for `cmd`."""
        if steps is None:
            items = [(cmd, [])]
        elif cmd is not None:
            raise self._error(TypeError, "give the command as cmd=..., or a list of commands as steps=[...] "
                              "(not both).")
        elif not isinstance(steps, (list, tuple)) or not steps:
            raise self._error(ValueError, f"steps must be a non-empty list of commands, got {steps!r:.100}")
        else:
            items = [step if isinstance(step, tuple) else (step, []) for step in steps]
        self._raw = [item[0] for item in items]
        checked = []
        for i, item in enumerate(items):
            if len(item) != 2 or not isinstance(item[1], (list, tuple)):
                raise self._error(TypeError, f"steps[{i}] must be a command or a (command, [files]) tuple, "
                                  f"got {item!r:.100}")
            argv, text = self._check_cmd(item[0], shell)
            checked.append((argv, text, [os.fspath(name) for name in item[1]]))
        return checked

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
            if isinstance(key, str) and (not key or "=" in key or "\0" in key + str(value)):
                raise self._error(ValueError, f"env key {key!r:.100} is not a variable name (empty, or "
                                  "holding '=' or a NUL byte).")
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
            if os.path.islink(directory):
                os.unlink(directory)  # a planted link: replaced by our own directory, its target untouched
            os.makedirs(directory, exist_ok=True)
            out, err = os.path.join(directory, "stdout"), os.path.join(directory, "stderr")
            env = self._environment()
            self._write_command_file(directory, env)
            try:
                self._run_steps(out, err, env)
            finally:
                self._keep_tails(out, err)
            if self.values_file:
                try:
                    self.values()
                except ValueError as exc:  # a malformed line: the command's failure
                    raise CommandFailed(str(exc), 0, self.command_text) from None
        except BaseException:
            self.remove_partial_outputs()
            raise
        finally:
            if not streamed:
                shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(self.scratch_dir(), ignore_errors=True)
        command_steps.clear(self)
        return outputs_state(self.filenames)

    def values(self) -> dict[str, str]:
        """The `name=value` lines the command wrote to $PPG_OUTPUTS (needs values=True)."""
        if not self.values_file:
            raise ValueError(f"CommandJob {self.job_id!r} has no values: create it with values=True and "
                             "have the command write name=value lines to $PPG_OUTPUTS.")
        found = {}
        with open(self.values_file, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                name, sep, value = line.removeprefix("export ").partition("=")
                if not sep or not name.strip().isidentifier():
                    raise self._error(ValueError, f"line {number} of {self.values_file} ($PPG_OUTPUTS) is "
                                      f"{line!r:.100}; write name=value lines.")
                found[name.strip()] = value
        return found

    def output_complaint(self, name: str, stat: tuple[int, int] | None) -> str | None:
        if name == self.values_file and stat is not None:
            return None  # a command may export no values
        return super().output_complaint(name, stat)

    def remove_partial_outputs(self) -> None:
        if len(self.steps) < 2:
            return super().remove_partial_outputs()
        kept = command_steps.kept_files(self)
        for name in self.filenames:
            if name not in kept and os.path.lexists(name):
                os.unlink(name)

    # --- running -------------------------------------------------------------

    def scratch_dir(self) -> str:
        """<cache_folder>/scratch/jobs/<job>: $PPG_SCRATCH_DIR, removed when the job succeeds."""
        return os.path.abspath(job_log_dir(self.job_id, os.path.join(self._graph.cache_folder, "scratch")))

    def _environment(self) -> dict[str, str]:
        """The variables the command gets on top of the inherited environment: the task's
        places (a fresh scratch directory), $PPG_OUTPUTS, then the job's own `env`."""
        scratch = self.scratch_dir()
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch)
        output_dir = os.path.abspath(os.path.dirname(self.filenames[0]) or ".")
        os.makedirs(output_dir, exist_ok=True)
        env = {"PPG_JOB_ID": self.job_id, "PPG_OUTPUT_DIR": output_dir, "PPG_SCRATCH_DIR": scratch,
               "PPG_PROJECT_DIR": os.getcwd(), "PPG_CODE_DIR": self.code_dir}
        if self.values_file:
            open(self.values_file, "w").close()
            env["PPG_OUTPUTS"] = os.path.abspath(self.values_file)
        return {**env, **self.env}

    def _write_command_file(self, directory: str, env: dict[str, str]) -> None:
        """A shell script that replays the command; every name and value is quoted."""
        lines = [f"# replay of pypipegraph command job {self.job_id!r}",
                 f"cd {shlex.quote(os.path.abspath(self.cwd or '.'))} || exit $?"]
        prefix = "env " + " ".join(shlex.quote(f"{key}={value}") for key, value in env.items())
        lines += [f"{prefix} {shlex.join(argv)} || exit $?" for argv, _, _ in self.steps]
        write_file(os.path.join(directory, "command"), "\n".join(lines) + "\n")

    def _run_steps(self, out: str, err: str, env: dict[str, str]) -> None:
        start = command_steps.first_step(self) if len(self.steps) > 1 else 0
        if start:
            print(f"{self.job_id}: resuming at step {start + 1} of {len(self.steps)}: steps 1-{start} "
                  "finished in an earlier run and their files are intact.", flush=True)
        for index in range(start, len(self.steps)):
            argv, text, _ = self.steps[index]
            returncode = self._run(argv, out, err, env, append=index > start)
            where = f" (step {index + 1} of {len(self.steps)})" if len(self.steps) > 1 else ""
            self._check_outcome(returncode, err, text, where, last=index == len(self.steps) - 1)
            if len(self.steps) > 1:
                command_steps.finished(self, index)

    def _run(self, argv: list[str], out: str, err: str, env: dict[str, str], append: bool) -> int:
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise self._failure(None, f"its working directory {self.cwd} does not exist. Create it "
                                "first (or depend on the job that makes it).", err)
        try:
            return run_program(argv, out, err, self.cwd, dict(os.environ, **env), append)
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

    def _check_outcome(self, returncode: int, err: str, text: str, where: str = "",
                       last: bool = True) -> None:
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = str(-returncode)
            raise self._failure(returncode, f"was killed by signal {name}{where}.", err, text)
        if returncode not in self.ok_returncodes:
            accepted = ", ".join(str(c) for c in self.ok_returncodes)
            hint = " (127: the shell did not find the program)" if returncode == 127 and self.uses_shell else ""
            raise self._failure(returncode, f"exited with code {returncode}{hint}{where} (ok_returncodes: "
                                f"{accepted}).", err, text)
        if not last:
            return
        missing = [name for name in self.filenames if not os.path.exists(name)]
        if missing:
            hint = " (names are relative to the pipeline's directory, not to cwd)" if self.cwd else ""
            raise self._failure(returncode, f"exited with code {returncode} but did not write "
                                f"{', '.join(missing)}. The command must write every declared "
                                f"output{hint}.", err, text)

    def _failure(self, returncode: int | None, what: str, err: str, text: str | None = None) -> CommandFailed:
        text = self.command_text if text is None else text
        text = text if len(text) <= 500 else text[:500] + " ..."
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


def _defined(cmd, argv: list[str]):
    """How a command counts for the invariant: the text of a str, the list of an argv."""
    return cmd if isinstance(cmd, str) else list(argv)


def _script_dir() -> str:
    """The directory of the pipeline's script ($PPG_CODE_DIR); the project when there is none."""
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.dirname(os.path.abspath(script)) if script else os.getcwd()


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
