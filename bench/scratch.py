"""A scratch database for a benchmark: made on the server of DATABASE_URL, built by the app's
migrations, dropped at the end; seeding it; and the figures' table printing the benchmarks share."""

import argparse
import os
import statistics
import sys
import time
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


def seeded_arguments(doc, runs, users=False):
    """The options of a benchmark on seeded rows: --rows, --runs (and --users); the parser, for
    more."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    if users:
        parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=runs)
    return parser


def seed(app, rows, users=2000, days=90, seed=1):
    """Fill the scratch database with `flask logs seed`'s rows over `days` days; say how long
    it took."""
    from webapp.services import log_seed

    started = time.monotonic()
    log_seed.seed(rows, users, days, app.config["LLM_PRICES"], seed=seed)
    print(f"seeded {rows:,} rows in {time.monotonic() - started:.0f} s")


def accounts_for_seeded_rows():
    """Accounts for the seeded rows' heaviest user of the last 30 days, a typical (median) one
    and an admin: ((user_id, n) of heavy and typical, {"heavy"|"typical"|"admin": API token})."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.models import ApiToken, User

    db.session.execute(text("ANALYZE"))
    counts = db.session.execute(text(
        "SELECT user_id, count(*) AS n FROM llm_call_logs WHERE timestamp >= :s"
        " GROUP BY 1 ORDER BY 2 DESC"), {"s": datetime.now(timezone.utc) - timedelta(days=30)}).all()
    heavy, typical = counts[0], counts[len(counts) // 2]
    tokens = {}
    for name, user_id, role in (("heavy", heavy.user_id, "user"),
                                ("typical", typical.user_id, "user"),
                                ("admin", str(uuid.uuid4()), "admin")):
        user = User(id=uuid.UUID(user_id), email=f"{name}@bench.example", role=role)
        db.session.add(user)
        tokens[name] = ApiToken.issue(user)
    db.session.commit()
    return (heavy, typical), tokens


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
