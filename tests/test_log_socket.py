"""Streaming the `pypipegraph` logger to a socket, read by util/log_listener.py.

The listener and the pipelines run as real processes talking over a real TCP socket.
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

from pypipegraph import logs

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
    """util/log_listener.py in a subprocess, on a free port."""

    def __init__(self, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, LISTENER, "--host", "127.0.0.1", "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self._read_line(self.proc.stderr, 20)
        assert line.startswith("log_listener: listening on 127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])
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


def run_pipeline(tmp_path, port: int, via: str = "env") -> None:
    """The pipeline, streaming to `port` by the environment variable or new_pipegraph(log_socket=)."""
    (tmp_path / "out").mkdir()
    (tmp_path / "logs").mkdir()
    script = tmp_path / "pipeline.py"
    address = f"127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != logs.SOCKET_ENV}
    if via == "env":
        env[logs.SOCKET_ENV] = address
    arguments = f", log_socket={address!r}" if via == "argument" else ""
    script.write_text(PIPELINE.format(root=str(ROOT), arguments=arguments))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


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
    listener = Listener()
    try:
        run_pipeline(tmp_path, listener.port, via)
        listener.wait_for(*EXPECTED)
    finally:
        code, output, err = listener.stop()
    assert code == 0 and "Traceback" not in err  # Ctrl-C ends it cleanly
    check_lines(output)
    # the same decisions as logs/ppg_run.txt
    run_log = (tmp_path / "logs" / "ppg_run.txt").read_text()
    assert "out/good: runs because never ran" in run_log


def test_count_ends_the_listener(tmp_path):
    listener = Listener("--count", "3")
    try:
        run_pipeline(tmp_path, listener.port)  # sends more than 3 records
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
    listener = Listener()
    try:
        run_pipeline(first, listener.port)
        run_pipeline(second, listener.port)
        listener.wait_for("run started", f" in {first}\n", f" in {second}\n")
    finally:
        code, _, _ = listener.stop()
    assert code == 0


def test_nothing_listening_costs_nothing(tmp_path):
    with socket_port() as port:  # a port nobody listens on
        start = time.time()
        run_pipeline(tmp_path, port)
    assert time.time() - start < 20
    assert (tmp_path / "out" / "good").exists()


class socket_port:
    """A free TCP port, closed again (nothing listens on it)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        pass


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


@pytest.mark.parametrize("text, address", [
    ("1", ("localhost", 5005)),
    ("127.0.0.1:6123", ("127.0.0.1", 6123)),
    ("somehost:7000", ("somehost", 7000)),
    (":7001", ("localhost", 7001)),
    ("somehost", ("somehost", 5005)),
    ("[::1]:7002", ("::1", 7002)),
])
def test_addresses(text, address):
    assert logs.socket_address(text) == address


def test_bad_address():
    with pytest.raises(ValueError, match="host:port"):
        logs.socket_address("localhost:http")


def test_attach_sets_debug_and_detach_restores(clean_logger, monkeypatch):
    clean_logger.setLevel(logging.WARNING)
    monkeypatch.setenv(logs.SOCKET_ENV, "1")
    handler = logs.attach_socket_handler()
    assert isinstance(handler, logging.handlers.SocketHandler)
    assert (handler.host, handler.port) == ("localhost", 5005)
    assert handler in clean_logger.handlers and handler.level == logging.DEBUG
    assert clean_logger.isEnabledFor(logging.DEBUG)
    logs.detach(handler)
    assert handler not in clean_logger.handlers
    assert clean_logger.level == logging.WARNING

    explicit = logs.attach_socket_handler("127.0.0.1:6553")  # an argument wins over the variable
    assert (explicit.host, explicit.port) == ("127.0.0.1", 6553)
    logs.detach(explicit)
