"""A real gunicorn serving the app from the repository's gunicorn.conf.py, for tests."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from scripts.services import ROOT


def free_port():
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A running gunicorn: its base URL, its port, and what it has logged."""

    def __init__(self, url, port, log):
        self.url, self.port, self._log = url, port, log

    def log_text(self):
        """Everything the server wrote to stderr so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


@contextlib.contextmanager
def running_gunicorn(env, *args, ready_path="/healthz", timeout=30):
    """Run `gunicorn wsgi:app` with gunicorn.conf.py on a free loopback port; yield Served."""
    port = free_port()
    # A file, not a pipe: a pipe nobody reads would stall the server once it filled up.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", *args, "wsgi:app"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + ready_path, timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError("gunicorn did not start: " + log.read().decode()[-3000:])
                time.sleep(0.2)
        yield Served(url, port, log)
    finally:
        stop(process, timeout=15)
        log.close()


def stop(process, timeout):
    """SIGTERM the process, and SIGKILL it if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def raw_request(port, data, timeout=10):
    """Send raw bytes to the server; return everything it answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def split_response(raw):
    """(status, headers as a lower-cased dict, body) of a raw HTTP response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body
