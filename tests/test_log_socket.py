"""Streaming the `pypipegraph` logger to a socket, read by util/log_listener.py.

The listener and the pipelines run as real processes talking over a real Unix socket in
a private directory. The attackers are real too: a listener planted in a directory others
can write to, and (when the tests run as root) processes running as another user.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pypipegraph.views import logs

ROOT = Path(__file__).resolve().parent.parent
LISTENER = str(ROOT / "util" / "log_listener.py")

PIPELINE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    ppg.new_pipegraph(quiet=True{arguments})

    def good(of):
        Path(of).write_text("good")

    def bad(of):
        raise ValueError("bad on purpose")

    ppg.FileGeneratingJob("out/good", good)
    ppg.FileGeneratingJob("out/bad", bad)
    try:
        ppg.run()
    except ppg.RuntimeError:
        pass
    """
)


class Listener:
    """util/log_listener.py in a subprocess, on a socket in a fresh private directory."""

    def __init__(self, directory: Path, *extra: str):
        self.path = str(directory / "sockets" / "log.sock")
        self.proc = subprocess.Popen(
            [sys.executable, LISTENER, "--socket", self.path, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self._read_line(self.proc.stderr, 20)
        assert line == f"log_listener: listening on {self.path}", line
        self.output = ""

    @staticmethod
    def _read_line(stream, timeout: float) -> str:
        deadline = time.time() + timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.time()
            assert remaining > 0, f"no line from the listener (got {data!r})"
            ready, _, _ = select.select([stream], [], [], remaining)
            if ready:
                chunk = os.read(stream.fileno(), 1)
                assert chunk, "the listener exited"
                data += chunk
        return data.decode().strip()

    def wait_for(self, *texts: str, timeout: float = 20) -> str:
        """Read its stdout until every text appeared."""
        deadline = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while not all(text in self.output for text in texts):
            remaining = deadline - time.time()
            assert remaining > 0, f"missing {texts} in the listener's output:\n{self.output}"
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.output += chunk.decode()
        assert all(text in self.output for text in texts), self.output
        return self.output

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C; returns (exit code, rest of stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=20)
        self.output += out.decode()
        return self.proc.returncode, self.output, err.decode()


def run_pipeline(tmp_path, address: str, via: str = "env") -> str:
    """The pipeline, streaming to `address` by the environment variable or
    new_pipegraph(log_socket=); returns its stderr."""
    (tmp_path / "out").mkdir()
    (tmp_path / "logs").mkdir()
    script = tmp_path / "pipeline.py"
    env = {k: v for k, v in os.environ.items() if k != logs.SOCKET_ENV}
    if via == "env":
        env[logs.SOCKET_ENV] = address
    arguments = f", log_socket={address!r}" if via == "argument" else ""
    script.write_text(PIPELINE.format(root=str(ROOT), arguments=arguments))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "good").read_text() == "good"
    return done.stderr


EXPECTED = (
    "DEBUG pypipegraph: run started ",
    "DEBUG pypipegraph: out/good: runs because never ran (no record in the store)",
    "DEBUG pypipegraph: out/bad: runs because never ran (no record in the store)",
    "ERROR pypipegraph: out/bad failed: ",
)


def check_lines(output: str) -> None:
    for line in output.splitlines():
        stamp, level = line.split()[:2]
        assert time.strptime(stamp, "%H:%M:%S")
        assert level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@pytest.mark.parametrize("via", ["env", "argument"])
def test_a_run_streams_its_decisions_to_the_listener(tmp_path, via):
    listener = Listener(tmp_path)
    assert os.stat(os.path.dirname(listener.path)).st_mode & 0o777 == 0o700
    try:
        run_pipeline(tmp_path, listener.path, via)
        listener.wait_for(*EXPECTED)
    finally:
        code, output, err = listener.stop()
    assert code == 0 and "Traceback" not in err  # Ctrl-C ends it cleanly
    check_lines(output)
    # the same decisions as logs/ppg_run.txt
    run_log = (tmp_path / "logs" / "ppg_run.txt").read_text()
    assert "out/good: runs because never ran" in run_log


def test_count_ends_the_listener(tmp_path):
    listener = Listener(tmp_path, "--count", "3")
    try:
        run_pipeline(tmp_path, listener.path)  # sends more than 3 records
        assert listener.proc.wait(20) == 0
    finally:
        code, output, err = listener.stop()
    assert code == 0 and err == ""
    assert len(output.splitlines()) == 3
    check_lines(output)


def test_one_listener_serves_several_runs(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    listener = Listener(tmp_path)
    try:
        run_pipeline(first, listener.path)
        run_pipeline(second, listener.path)
        listener.wait_for("run started", f" in {first}\n", f" in {second}\n")
    finally:
        code, _, _ = listener.stop()
    assert code == 0


def test_nothing_listening_costs_nothing(tmp_path):
    private = tmp_path / "sockets"
    private.mkdir(mode=0o700)
    start = time.time()
    err = run_pipeline(tmp_path, str(private / "log.sock"))  # nobody listens there
    assert time.time() - start < 20
    assert "warning" not in err


def test_the_listener_refuses_a_directory_others_can_write(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    done = subprocess.run([sys.executable, LISTENER, "--socket", str(shared / "log.sock")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr == (f"log_listener: cannot listen on {shared}/log.sock: refusing to use "
                           f"{shared}: {shared} has mode 0777: group or others have access "
                           "(chmod 700 it)\n")
    assert not (shared / "log.sock").exists()


class Planted:
    """An attacker's listener: a Unix socket server that records whether anyone connected."""

    def __init__(self, path: str, as_uid: int | None = None):
        import socket

        self.ready_r, ready_w = os.pipe()
        self.report_r, report_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the attacker
            try:
                server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                server.bind(path)
                os.chmod(path, 0o777)
                if as_uid is not None:
                    os.setgid(as_uid)
                    os.setuid(as_uid)  # listen() records the credentials a client sees
                server.listen()
                server.settimeout(60)
                os.write(ready_w, b"x")
                conn, _ = server.accept()
                os.write(report_w, b"connected:" + conn.recv(100))
            finally:
                os._exit(0)
        os.close(ready_w)
        os.close(report_w)
        assert os.read(self.ready_r, 1) == b"x"

    def stop(self) -> bytes:
        """What the attacker got (b"" when nobody connected)."""
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        got = os.read(self.report_r, 200)
        os.close(self.ready_r)
        os.close(self.report_r)
        return got


def test_a_listener_planted_in_a_shared_directory_gets_nothing(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could have put a socket here
    planted = Planted(str(shared / "log.sock"))
    try:
        err = run_pipeline(tmp_path, str(shared / "log.sock"))
    finally:
        got = planted.stop()
    assert got == b""
    assert err == (f"pypipegraph: warning: not streaming the log to {shared}/log.sock: {shared} "
                   "has mode 0777: group or others have access (chmod 700 it)\n")


needs_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                                reason="a second user needs root to become one")
NOBODY = 65534


@needs_root
def test_a_directory_owned_by_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    planted = Planted(str(theirs / "log.sock"), as_uid=NOBODY)
    try:
        err = run_pipeline(tmp_path, str(theirs / "log.sock"))
    finally:
        got = planted.stop()
    assert got == b""
    assert err == (f"pypipegraph: warning: not streaming the log to {theirs}/log.sock: {theirs} is "
                   f"owned by uid {NOBODY}, not by you (uid 0)\n")


@needs_root
def test_a_listener_of_another_user_gets_nothing(tmp_path):
    """Even in a private directory of ours, a socket whose listener runs as someone else."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    planted = Planted(str(private / "log.sock"), as_uid=NOBODY)
    try:
        err = run_pipeline(tmp_path, str(private / "log.sock"))
    finally:
        got = planted.stop()
    assert got in (b"", b"connected:")  # it may see a connection, never a record
    assert "Traceback" not in err


@needs_root
def test_another_user_cannot_write_into_the_listener(tmp_path):
    listener = Listener(tmp_path)
    inject = textwrap.dedent(f"""
        import os, socket, sys
        os.setgid({NOBODY}); os.setuid({NOBODY})
        try:
            socket.socket(socket.AF_UNIX).connect({listener.path!r})
        except PermissionError:
            sys.exit(7)
        """)
    try:
        done = subprocess.run([sys.executable, "-c", inject], timeout=30)
        run_pipeline(tmp_path, listener.path)  # the owner's run still gets through
        listener.wait_for(*EXPECTED)
    finally:
        listener.stop()
    assert done.returncode == 7


# --- attach_socket_handler itself -------------------------------------------------


@pytest.fixture
def clean_logger(monkeypatch):
    monkeypatch.delenv(logs.SOCKET_ENV, raising=False)
    level, handlers = logs.logger.level, list(logs.logger.handlers)
    yield logs.logger
    logs.logger.setLevel(level)
    logs.logger.handlers[:] = handlers


def test_no_address_no_handler(clean_logger, monkeypatch):
    assert logs.attach_socket_handler() is None
    monkeypatch.setenv(logs.SOCKET_ENV, "")
    assert logs.attach_socket_handler() is None
    monkeypatch.setenv(logs.SOCKET_ENV, "0")
    assert logs.attach_socket_handler() is None
    logs.detach(None)  # harmless


def test_addresses(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert logs.socket_address("1") == f"{tmp_path}/pypipegraph/log.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "gone"))  # set, but no such directory
    import tempfile

    assert logs.socket_address("1") == f"{tempfile.gettempdir()}/pypipegraph-{os.getuid()}/log.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert logs.socket_address("1") == f"{tempfile.gettempdir()}/pypipegraph-{os.getuid()}/log.sock"
    assert logs.socket_address("/x/y.sock") == "/x/y.sock"
    assert logs.socket_address("./y.sock") == f"{tmp_path}/y.sock"


@pytest.mark.parametrize("text", ["localhost:5005", "127.0.0.1:6123", ":7001", "somehost"])
def test_tcp_addresses_are_refused(text):
    with pytest.raises(ValueError, match="TCP host:port is not supported"):
        logs.socket_address(text)
    with pytest.raises(ValueError, match="TCP host:port is not supported"):
        import pypipegraph as ppg

        ppg.new_pipegraph(log_socket=text)


def test_a_tcp_address_in_the_environment_warns_and_the_run_goes_on(tmp_path):
    err = run_pipeline(tmp_path, "localhost:5005")
    assert err == ("pypipegraph: warning: not streaming the log to $PYPIPEGRAPH_LOG_SOCKET: log "
                   "socket 'localhost:5005': give the path of a Unix socket (with a '/', e.g. "
                   "./log.sock) or 1 for the default one; TCP host:port is not supported (any "
                   "local user could listen on it first or write into it)\n")


def test_attach_sets_debug_and_detach_restores(clean_logger, monkeypatch, tmp_path):
    clean_logger.setLevel(logging.WARNING)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv(logs.SOCKET_ENV, "1")
    handler = logs.attach_socket_handler()
    assert isinstance(handler, logs.PrivateSocketHandler)
    assert (handler.host, handler.port) == (f"{tmp_path}/pypipegraph/log.sock", None)
    assert handler in clean_logger.handlers and handler.level == logging.DEBUG
    assert clean_logger.isEnabledFor(logging.DEBUG)
    logs.detach(handler)
    assert handler not in clean_logger.handlers
    assert clean_logger.level == logging.WARNING

    explicit = logs.attach_socket_handler("/elsewhere/log.sock")  # an argument wins
    assert explicit.host == "/elsewhere/log.sock"
    logs.detach(explicit)
