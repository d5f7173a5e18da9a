"""`make run`: the whole service on one machine, until Ctrl-C.

Starts (or uses) PostgreSQL and Redis, applies the migrations, makes sure a demo
user and an admin exist and prints fresh tokens for both, then runs gunicorn and
a Celery worker. Ctrl-C stops every process this script started.
"""

import os
import signal
import subprocess
import sys
import time

from scripts.services import ROOT, ensure_database, running_services

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


def main():
    """Run the service until interrupted."""
    os.environ.setdefault("FLASK_APP", "wsgi")
    port = os.environ.get("PORT", "8000")
    with running_services() as urls:
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
        time.sleep(2)
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
            pass
        finally:
            _stop(processes)


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
