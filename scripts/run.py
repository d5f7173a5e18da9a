"""`make run`: the whole service on one machine, until Ctrl-C.

Starts (or uses) PostgreSQL and Redis, applies the migrations, makes sure a demo
user and an admin exist and prints fresh tokens for both, then runs gunicorn and
a Celery worker. Ctrl-C stops every process this script started.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

from config import RUN_URLS_FILE
from scripts.services import INSTANCE, ROOT, ensure_database, running_services

DEMO_USERS = (("demo@example.com", False), ("admin@example.com", True))


def _flask(*args):
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def _token_for(email, admin):
    """Create the user if needed; either way print a new token and return it."""
    try:
        out = _flask("users", "create", email, *(["--admin"] if admin else []))
    except subprocess.CalledProcessError:
        out = _flask("users", "token", email)
    return out.strip().splitlines()[-1]


def _port_taken(port):
    """Why the port cannot be ours, or None when it is free."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", int(port)))
        except OverflowError:
            return f"PORT={port} is not a port number"
        except OSError as exc:
            return f"port {port} on 127.0.0.1 is taken ({exc.strerror})"
    return None


def _fail(reason):
    """Stop with a one-line reason and a non-zero status."""
    print(f"make run: {reason}.", file=sys.stderr, flush=True)
    sys.exit(1)


@contextlib.contextmanager
def _urls_written_down(embedded):
    """Write the embedded servers' URLs where `flask ...` in another shell finds them
    (config.service_urls); remove the file when the servers stop."""
    if not embedded:
        yield
        return
    RUN_URLS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RUN_URLS_FILE.write_text(json.dumps(embedded))
    try:
        yield
    finally:
        RUN_URLS_FILE.unlink(missing_ok=True)


def _wait_until_listening(port, processes, timeout=60):
    """Wait until gunicorn accepts connections; fail if a process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                return f"{process.args[2]} exited with status {process.returncode} on start"
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", int(port))) == 0:
                return None
        time.sleep(0.2)
    return f"the web server did not listen on port {port} within {timeout} s"


def main():
    """Run the service until interrupted."""
    os.environ.setdefault("FLASK_APP", "wsgi")
    port = os.environ.get("PORT") or "8000"
    if not port.isdigit():
        _fail(f"PORT={port} is not a port number")
    taken = _port_taken(port)
    if taken:
        _fail(f"{taken}; stop what uses it or choose another, e.g. PORT={int(port) + 1} make run")
    unset = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    with running_services() as urls, _urls_written_down({name: urls[name] for name in unset}):
        ensure_database(urls["DATABASE_URL"])
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, check=True)
        tokens = {email: _token_for(email, admin) for email, admin in DEMO_USERS}
        processes = [
            subprocess.Popen(
                # The repository's gunicorn.conf.py (worker class, threads, limits), on loopback.
                [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                 "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                cwd=ROOT, start_new_session=True,
            ),
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel", "INFO"],
                cwd=ROOT, start_new_session=True,
            ),
        ]
        problem = _wait_until_listening(port, processes)
        if problem:
            _stop(processes)
            _fail(problem)
        print("\nThe service runs on http://127.0.0.1:%s (Ctrl-C stops it).\n" % port)
        print(f"  Dashboard: http://127.0.0.1:{port}/dashboard/ (sign in with a token below)")
        print(f"  API docs:  http://127.0.0.1:{port}/docs\n")
        for email, token in tokens.items():
            print(f"  {email}: {token}")
        demo = tokens[DEMO_USERS[0][0]]
        print(f'\n  curl -H "Authorization: Bearer {demo}" localhost:{port}/me\n', flush=True)
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            interrupted = True
        else:
            interrupted = False
        finally:
            _stop(processes)
        if not interrupted:
            gone = next(p for p in processes if p.returncode is not None)
            _fail(f"{gone.args[2]} exited with status {gone.returncode}; stopped the rest")


def _stop(processes):
    """Stop each process group we started: TERM first, KILL what is left after 15 s."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Installed explicitly: a shell may start us with SIGINT ignored (a background job).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    main()
