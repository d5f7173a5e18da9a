"""A scratch database for a benchmark: made on the server of DATABASE_URL, built by the app's
migrations, dropped at the end; and the figures' table printing the benchmarks share."""

import os
import statistics
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from config import Config, database_url  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_app(**settings):
    """Yield a Flask app on a new database `llmlog_bench_<random>`, migrated; drop it after."""
    from flask_migrate import upgrade

    from scripts.services import admin_url
    from webapp import create_app
    from webapp.extensions import db

    server = database_url(os.environ.get("DATABASE_URL", DEFAULT_SERVER))
    name = f"llmlog_bench_{uuid.uuid4().hex[:8]}"
    admin = admin_url(server)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = make_url(server).set(database=name).render_as_string(
            hide_password=False)
        REDIS_KEY_PREFIX = f"llmlog-bench-{name}:"

    for key, value in settings.items():
        setattr(BenchConfig, key, value)
    app = create_app(BenchConfig)
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values, fraction):
    """The value below which `fraction` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_table(header, rows):
    """A plain text table, columns padded to their widest cell."""
    cells = [header, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for number, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def ms(seconds):
    """Seconds as milliseconds, 3 significant decimals."""
    return f"{seconds * 1000:.3f}"


median = statistics.median
