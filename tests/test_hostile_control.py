"""Malformed requests on `ppg top`'s real control socket while a real pipeline runs: each
is answered with an error or dropped, and the run goes on to finish normally.

The pipeline (test_console.PIPELINE) runs jobs that wait for release files the test writes.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from test_console import release, wait_for_files, workdir  # noqa: F401 - workdir: a fixture
from test_top import STORE, headless, ppg, runtime_dir, serving  # noqa: F401 - fixtures

from pypipegraph.views.control import CLIENT_TIMEOUT, MAX_CLIENTS, MAX_REQUEST, socket_path


def connect() -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(CLIENT_TIMEOUT * 6)
    client.connect(socket_path(STORE))
    return client


def exchange(data: bytes) -> bytes:
    """Send `data` (and keep the connection open for the answer); all the server sent back."""
    client = connect()
    try:
        try:
            client.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server hung up on it while it was sending: dropped
        received = b""
        while True:
            try:
                chunk = client.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received
    finally:
        client.close()


def error_of(data: bytes) -> str:
    answer = json.loads(exchange(data))
    assert set(answer) == {"error"}, answer
    return answer["error"]


def test_malformed_requests_are_answered_or_dropped_and_the_run_goes_on(headless):  # noqa: F811
    proc = headless(JOBS="3")
    wait_for_files("started/0", "started/1")
    serving(proc)

    depth = (MAX_REQUEST - 8) // 2  # deep enough for the parser's recursion limit, within the size limit
    assert error_of(b"[" * depth + b"]" * depth + b"\n") == "the request is not a JSON object"
    # a parser that recurses (Python < 3.13) refuses it; one that does not (3.13) reads a request
    # it does not know, and the answer does not echo it whole
    nested = error_of(b'{"ask": ' + b"[" * (depth - 8) + b"]" * (depth - 8) + b"}\n")
    assert nested == "the request is not a JSON object" or nested == "unknown request " + "[" * 77 + "..."
    assert error_of(b"\xff\xfe\x00\x01binary\x80\n") == "the request is not a JSON object"
    assert error_of(b"[1, 2, 3]\n") == "the request is not a JSON object"
    assert error_of(b'"snapshot"\n') == "the request is not a JSON object"
    assert error_of(b'{"ask": ["snapshot"]}\n') == "unknown request ['snapshot']"
    assert error_of(b'{"ask": "kill", "job": {"id": 1}}\n') == "unknown request 'kill'"
    assert exchange(b"x" * (MAX_REQUEST * 50)) == b""  # too large: hung up on, no answer
    assert exchange(b'{"ask": "snap') == b""  # partial, then the client closed its end
    silent = []  # slow: say nothing and hold the connections, more of them than are served
    for _ in range(MAX_CLIENTS + 4):
        try:
            silent.append(connect())
        except BlockingIOError:
            pass  # the listen queue is full: refused by the kernel
    assert len(silent) >= MAX_CLIENTS
    for client in silent:
        assert client.recv(1) == b""  # each is dropped after CLIENT_TIMEOUT (or at once when too many)
        client.close()

    lines = ppg("top", "--once").stdout.splitlines()  # the run still serves ppg top, and still runs
    assert lines[1].startswith("done 0/3 (0%) · running 2 · failed 0")
    release("all")
    assert proc.wait(timeout=60) == 0
    output = Path("run.out").read_text()
    assert "Traceback" not in output and "RecursionError" not in output
    assert sorted(p.name for p in Path("out").iterdir()) == ["0", "1", "2"]
