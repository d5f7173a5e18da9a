"""A `flask ...` command that cannot reach PostgreSQL says so in one line, not a traceback."""

import sys

import click
from sqlalchemy.engine import make_url


def _connection_error(exc):
    """The driver's failure to reach the database in the exception's chain, or None."""
    import psycopg
    from sqlalchemy.exc import InterfaceError, OperationalError

    found = None
    while exc is not None:
        if isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError)):
            found = getattr(exc, "orig", None) or exc
        exc = exc.__cause__ or exc.__context__
    return found


def _reason(exc):
    """The last clause of the driver's first line: "Connection refused", "database ... does
    not exist"."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return first.rsplit(": ", 1)[-1].strip()[:160]


def message(config, reason=""):
    """What went wrong and what to set, in one line."""
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    source = config.get("DATABASE_URL_SOURCE", "default")
    if source == "environment":
        origin = "from DATABASE_URL"
    elif source == "default":
        origin = "the default; DATABASE_URL is unset and no `make run` is up"
    else:
        origin = f"from {source}, written by `make run`: is it still running?"
    reason = f": {reason}" if reason else ""
    return (f"Error: cannot use PostgreSQL at {where}{reason} ({origin}). Set DATABASE_URL to a "
            "running server, or keep `make run` running in another shell.")


def install(app):
    """In a command-line run, print a database connection failure as one line and exit 1."""
    if click.get_current_context(silent=True) is None:
        return
    previous = sys.excepthook
    config = app.config

    def hook(exc_type, exc, tb):
        failure = _connection_error(exc)
        if failure is not None:
            sys.stderr.write(message(config, _reason(failure)) + "\n")
        else:
            previous(exc_type, exc, tb)

    sys.excepthook = hook
